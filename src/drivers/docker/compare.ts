// Docker: labels, env, ports and image are fixed at creation, so every change recreates the container.
import type { Compare } from '../types.js';

export const compare: Compare = () => 'replace';
