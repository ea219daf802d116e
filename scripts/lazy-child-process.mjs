// An esbuild plugin for the command-line bundles: commander loads node:child_process (and
// with it node:net, node:stream and more) at start, for executable subcommands this CLI
// does not have, and the client's machineFingerprint() for the OS queries it runs on macOS
// and Windows. This loads it only when one of them calls it, which saves a cold start the
// cost of those modules.
export const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]|[\\/]client[\\/]fingerprint\.[jt]s$/.test(args.importer)
        ? { path: "child_process", namespace: "lazy-child-process" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-child-process" }, () => ({
      contents:
        'const load = () => require("node:child_process");\n' +
        "module.exports = {\n" +
        "  spawn: (...args) => load().spawn(...args),\n" +
        "  execFileSync: (...args) => load().execFileSync(...args),\n" +
        "};\n",
      loader: "js",
    }));
  },
};
