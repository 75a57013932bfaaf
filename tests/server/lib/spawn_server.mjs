// Starts `whale serve --port 0 ARGS` for node tests and resolves to {base, proc, log()} once it listens. The
// server is killed when the test process exits, whatever happens. `logLimit` bounds how much of the server's
// stderr log() keeps (its tail), for long runs that log a line per request.
import { spawn } from "node:child_process";

export function startServer(args, { timeoutMs = 60000, logLimit = Infinity } = {}) {
  const whale = process.env.WHALE;
  if (!whale) throw new Error("WHALE must point at the whale binary");
  const proc = spawn(whale, ["serve", "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  process.on("exit", () => proc.kill("SIGKILL"));
  let log = "";
  let listening = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), timeoutMs);
    proc.stderr.on("data", (data) => {
      log += data;
      if (log.length > logLimit) log = log.slice(log.length - logLimit);
      if (listening) return;
      const m = log.match(/on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        listening = true;
        clearTimeout(timer);
        resolve({ base: `http://127.0.0.1:${m[1]}`, proc, log: () => log });
      }
    });
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
}
