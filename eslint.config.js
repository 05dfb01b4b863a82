// ESLint flat config: TypeScript rules plus the purity fence around src/planner.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export const plannerPurity = {
  paths: [
    { name: 'node:fs', message: 'The planner is pure: observation belongs in src/observe.' },
    { name: 'fs', message: 'The planner is pure: observation belongs in src/observe.' },
    { name: 'node:fs/promises', message: 'The planner is pure: observation belongs in src/observe.' },
    { name: 'fs/promises', message: 'The planner is pure: observation belongs in src/observe.' },
    { name: 'node:child_process', message: 'The planner is pure: no processes.' },
    { name: 'child_process', message: 'The planner is pure: no processes.' },
    { name: 'execa', message: 'The planner is pure: no processes.' },
    { name: 'dockerode', message: 'The planner is pure: drivers observe, the planner decides.' },
    { name: 'simple-git', message: 'The planner is pure: tag resolution is observation.' },
  ],
  patterns: [
    { group: ['**/drivers/**', '!**/drivers/types.js', '!**/drivers/compare.js', '!**/drivers/compare-rules.js', '!**/drivers/*/compare.js'], message: 'The planner may use driver types and the pure compare registry only, never drivers.' },
    { group: ['**/observe/**', '**/executor/**'], message: 'The planner is pure.' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', 'coverage/**', 'test/fixtures/oubliette/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/planner/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', plannerPurity] },
  },
);
