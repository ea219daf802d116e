// An esbuild plugin for the command-line bundles: Node built-ins that a cold `dtlicense status`
// does not use are loaded on first use instead of when the bundle starts. commander loads
// node:child_process (and with it node:net, node:stream and more) for executable subcommands
// this CLI does not have; the client's machineFingerprint() needs it only for the OS queries
// it runs on macOS and Windows; node:tty (which loads node:net too) only answers whether a
// prompt may be shown; node:worker_threads only names the thread that holds a lock; node:module
// only serves Node versions without process.getBuiltinModule; node:os only a missing $HOME and
// the lock's host name.
// Each stands in as an object of getters, one per export, that loads the module when read.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
export const LAZY_BUILTINS = ["child_process", "tty", "worker_threads", "module", "os"];

export const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join("|")})$`);
    b.onResolve({ filter }, (args) =>
      // The stand-in's own require() is the real module.
      args.namespace === "lazy-builtins"
        ? { path: args.path, external: true }
        : { path: args.path.replace(/^node:/, ""), namespace: "lazy-builtins" },
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtins" }, (args) => {
      // The names this Node has; a later Node only adds names.
      const names = Object.keys(require(`node:${args.path}`)).filter((n) => n !== "default");
      return {
        contents:
          `let loaded;\nconst load = () => (loaded ??= require(${JSON.stringify(`node:${args.path}`)}));\n` +
          "module.exports = {\n" +
          names
            .map((n) => `  get ${JSON.stringify(n)}() { return load()[${JSON.stringify(n)}]; },\n`)
            .join("") +
          "};\n",
        loader: "js",
      };
    });
  },
};
