// Every temporary folder a test run makes goes under one folder of its own (TMPDIR is
// set before the test workers start, so os.tmpdir() points there), removed at the end:
// a run leaves nothing behind in the system's temporary directory.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "dtl-test-run-"));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
