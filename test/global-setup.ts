// Every temporary folder a test run makes goes under one folder of its own (TMPDIR is
// set before the test workers start, so os.tmpdir() points there), removed at the end:
// a run leaves nothing behind in the system's temporary directory.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "dtl-test-run-"));
  // Traversable like /tmp itself: some tests run commands as another user (the image's
  // uid) in folders of their own under here; each test's own folder keeps its own mode.
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
