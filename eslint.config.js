// @ts-check
// One lint for the whole repository: typescript-eslint's type-aware recommended rules on the
// TypeScript, ESLint's recommended rules on the plain JavaScript (the browser UI and the bin
// shim), and Prettier for layout (eslint-config-prettier turns off the rules it owns).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `_`-prefixed names are deliberately unused (an interface's parameter, a skipped element).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Numbers and booleans read fine in messages; objects and undefined do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // Tests read JSON answers, WebSocket frames and page.evaluate results and check their
    // shape with chai at run time: typing each one first would only restate the assertion.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // chai's `expect(x).to.be.true` is an expression statement.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
  { files: ['src/web/**/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['bin/**/*.js', 'eslint.config.js'], languageOptions: { globals: globals.node } },
  prettier,
  {
    // After eslint-config-prettier, which turns max-len off. Prettier wraps code at 140 but not
    // strings or comments: split those (template pieces joined with +) rather than let them grow.
    // max-len is deprecated in core (formatting rules) but available until ESLint 11.
    rules: { 'max-len': ['error', { code: 160, ignoreUrls: true, ignoreRegExpLiterals: true }] },
  },
);
