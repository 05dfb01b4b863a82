// ESLint flat config: TypeScript rules, and only cli/ prints or exits. The import structure (layers,
// no cycles, a pure planner) is held by dependency-cruiser: .dependency-cruiser.cjs, run by `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const onlyCliPrints = 'Only src/cli/ prints or exits: return data, take a Log, or throw.';

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
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': ['error'],
      'no-restricted-properties': ['error',
        { object: 'process', property: 'exit', message: onlyCliPrints },
        { object: 'process', property: 'exitCode', message: onlyCliPrints },
        { object: 'process', property: 'stdout', message: onlyCliPrints },
        { object: 'process', property: 'stderr', message: onlyCliPrints },
      ],
    },
  },
);
