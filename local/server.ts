/**
 * Starting, health-checking and stopping the real Azure ML inference server (azmlinfsrv, package
 * azureml-inference-server-http) on this machine.
 *
 * Host binding: azmlinfsrv 1.5.1 has no host flag; it always passes `-b 0.0.0.0:<port>` to gunicorn
 * (constants.DEFAULT_HOST, read by amlserver.run()). Listening on every interface would expose an unauthenticated
 * scoring route to the local network, so for host 127.0.0.1 (the default) we start the same entry point
 * (azureml_inference_server_http.amlserver.run, what the `azmlinfsrv` script calls) through `python -c` after
 * setting constants.DEFAULT_HOST. With host 0.0.0.0 the `azmlinfsrv` script itself is run unchanged.
 *
 * App root: AML_APP_ROOT is the entry script's folder, as in an Azure deployment, so the server finds the
 * swagger*.json shipped there and serves them at /swagger.json (from the repository root it would make up its own).
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { sleep } from "../lib/toolkit/time";

export const DEFAULT_PORT = 5001;
export const DEFAULT_HOST = "127.0.0.1";

/** Runs amlserver.run() with DEFAULT_HOST replaced; argv after -c are azmlinfsrv's own flags. */
export function loopbackBootstrap(host: string): string {
  return [
    "import sys",
    "import azureml_inference_server_http.constants as c",
    `c.DEFAULT_HOST = ${JSON.stringify(host)}`,
    "from azureml_inference_server_http.amlserver import run",
    "sys.argv[0] = 'azmlinfsrv'",
    "sys.exit(run())",
  ].join("; ");
}

export interface ServerSpec {
  entryScript: string;
  modelDir: string;
  port: number;
  /** 127.0.0.1 (default) or 0.0.0.0. */
  host?: string;
  /** WORKER_COUNT: gunicorn sync worker processes, each loads TF and the model. */
  workers?: number;
  /** AML_APP_ROOT (default: the entry script's folder, as Azure sets it). */
  appRoot?: string;
  /** stdout+stderr of the server go here (a file, so a --keep-serving server outlives us safely). */
  logFile: string;
  /** Python executable for the loopback bootstrap (default: `python` on PATH, i.e. .venv/bin via env.sh). */
  python?: string;
  /** azmlinfsrv script (default: `azmlinfsrv` on PATH). */
  azmlinfsrv?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** The command line that serves the model (pure, for tests and for printing). */
export function serverCommand(spec: ServerSpec): {
  command: string;
  args: string[];
  env: Record<string, string>;
} {
  const host = spec.host ?? DEFAULT_HOST;
  const workers = spec.workers ?? 1;
  const flags = [
    "--entry_script",
    path.resolve(spec.entryScript),
    "--model_dir",
    path.resolve(spec.modelDir),
    "--port",
    String(spec.port),
    "--worker_count",
    String(workers),
  ];
  const env = {
    WORKER_COUNT: String(workers),
    AML_APP_ROOT: path.resolve(spec.appRoot ?? path.dirname(spec.entryScript)),
  };
  if (host === "0.0.0.0") return { command: spec.azmlinfsrv ?? "azmlinfsrv", args: flags, env };
  return { command: spec.python ?? "python", args: ["-c", loopbackBootstrap(host), ...flags], env };
}

/** Resolves true when nothing listens on host:port (we can bind it), false on EADDRINUSE/EACCES. */
export function isPortFree(port: number, host = DEFAULT_HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Resolves true when something accepts TCP connections on host:port (catches listeners a bind test can miss). */
export function isListening(port: number, host = DEFAULT_HOST, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (v: boolean) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** A port the OS considers free right now (for tests). */
export function freePort(host = DEFAULT_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen({ port: 0, host }, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The last n lines of a file ("" if missing). */
export function tailFile(file: string, n = 40): string {
  if (!existsSync(file)) return "";
  const size = statSync(file).size;
  const text = readFileSync(file, "utf8").slice(size > 200_000 ? -200_000 : 0);
  return text
    .split("\n")
    .slice(-n - 1)
    .join("\n")
    .trimEnd();
}

export interface RunningServer {
  child: ChildProcess;
  pid: number;
  scoringUri: string;
  healthUri: string;
  logFile: string;
  /** Resolves with the exit code/signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isAlive(): boolean;
}

export function scoringUriFor(port: number, host = DEFAULT_HOST): string {
  return `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/score`;
}

/**
 * Spawns the server in its own process group (gunicorn master + workers), output to spec.logFile.
 * Fails fast when the port is taken. Does not wait for health: see waitForHealth().
 */
export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const host = spec.host ?? DEFAULT_HOST;
  for (const [what, p] of [
    ["entry script", spec.entryScript],
    ["model dir", spec.modelDir],
  ] as const) {
    if (!existsSync(p)) throw new Error(`${what} not found: ${p}`);
  }
  const bindHost = host === "0.0.0.0" ? "0.0.0.0" : host;
  if (!(await isPortFree(spec.port, bindHost)) || (await isListening(spec.port, "127.0.0.1"))) {
    throw new Error(
      `port ${spec.port} is already in use on ${host}: stop whatever listens there (a server left by --keep-serving? ` +
        `see .local/server.json) or pick another with --port`,
    );
  }
  const { command, args, env } = serverCommand(spec);
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: spec.cwd ?? process.cwd(),
      env: { ...process.env, ...spec.env, ...env },
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (err) => {
      alive = false;
      resolve({ code: -1, signal: null });
      // Surface ENOENT (python/azmlinfsrv not on PATH) in the log tail.
      appendFileSync(spec.logFile, `\nspawn ${command} failed: ${err.message}\n`);
    });
    child.once("exit", (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    scoringUri: scoringUriFor(spec.port, host),
    healthUri: scoringUriFor(spec.port, host).replace(/\/score$/, "/"),
    logFile: spec.logFile,
    exited,
    isAlive: () => alive,
  };
}

/**
 * Polls GET / (azmlinfsrv's liveness route, answers 200 only after init()) until 200, failing fast with the log
 * tail when the process exits, or after timeoutMs.
 */
export async function waitForHealth(
  server: RunningServer,
  timeoutMs = 180_000,
  intervalMs = 500,
): Promise<number> {
  const t0 = Date.now();
  let last = "no answer yet";
  while (Date.now() - t0 < timeoutMs) {
    if (!server.isAlive()) {
      const { code, signal } = await server.exited;
      throw new Error(
        `azmlinfsrv exited (code ${code}${signal ? `, signal ${signal}` : ""}) before it was healthy; ` +
          `log tail (${server.logFile}):\n${tailFile(server.logFile)}`,
      );
    }
    try {
      const res = await fetch(server.healthUri, { signal: AbortSignal.timeout(5000) });
      await res.text();
      if (res.status === 200) return Date.now() - t0;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(
    `azmlinfsrv was not healthy within ${Math.round(timeoutMs / 1000)} s (last: ${last}); ` +
      `log tail (${server.logFile}):\n${tailFile(server.logFile)}`,
  );
}

/** Signals the process group led by pid (the server was spawned detached, so pid is its group id). */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* group already gone */
  }
}

/** SIGTERM to the server's process group, SIGKILL after graceMs. Resolves once the master has exited. */
export async function stopServer(server: RunningServer, graceMs = 10_000): Promise<void> {
  if (server.pid <= 0) return;
  if (!server.isAlive()) {
    killGroup(server.pid, "SIGKILL"); // stray workers of a dead master, if any
    return;
  }
  killGroup(server.pid, "SIGTERM");
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
  if ((await Promise.race([server.exited, timer])) === "timeout") {
    killGroup(server.pid, "SIGKILL");
    await server.exited;
  }
  // Workers of a killed master may linger a moment; make sure the group is gone.
  killGroup(server.pid, "SIGKILL");
}

/** Lets the server outlive this process (for --keep-serving). */
export function detachServer(server: RunningServer): void {
  server.child.unref();
}

/** Prints what is appended to a file (polling), until the returned stop function is called. */
export function followFile(file: string, onText: (text: string) => void, intervalMs = 300): () => void {
  let pos = 0;
  const tick = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < pos) pos = 0;
    if (size === pos) return;
    const fd = openSync(file, "r");
    try {
      const buf = Buffer.alloc(size - pos);
      const n = readSync(fd, buf, 0, buf.length, pos);
      pos += n;
      onText(buf.subarray(0, n).toString("utf8"));
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(tick, intervalMs);
  return () => {
    clearInterval(timer);
    tick();
  };
}
