#!/usr/bin/env node
// Runs the built CLI (npm ci builds it through `prepare`).
import '../dist/src/cli/main.js';
