// The server's default log sink: lines of one turn of the event loop leave in one write, in order.
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { CoalescedLines } from "../../src/server/log-lines.js";

describe("coalesced log lines", () => {
  it("writes the lines of one turn in one write, in order, and nothing before the turn ends", async () => {
    const writes: string[] = [];
    const lines = new CoalescedLines({ write: (t: string) => writes.push(t) });
    lines.write('{"n":1}\n');
    lines.write('{"n":2}\n');
    lines.write('{"n":3}\n');
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n']);
    lines.write('{"n":4}\n');
    await nextTurn();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n', '{"n":4}\n']);
  });

  it("writes what is pending when flushed (as at exit), and nothing twice", async () => {
    const writes: string[] = [];
    const lines = new CoalescedLines({ write: (t: string) => writes.push(t) });
    lines.write("a\n");
    lines.flush();
    expect(writes).toEqual(["a\n"]);
    await nextTurn();
    lines.flush();
    expect(writes).toEqual(["a\n"]);
  });
});
