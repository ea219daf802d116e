#!/usr/bin/env node
// The dtlicense executable: reads the process's environment once and runs the command line.
import { processContext } from "./context.js";
import { runCli } from "./program.js";

const code = await runCli(process.argv.slice(2), processContext());
// The one process exit of the CLI; exitCode lets pending output flush first.
process.exitCode = code;
