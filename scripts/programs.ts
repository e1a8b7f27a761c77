/**
 * What gets compiled: the two programs, the permissions each is compiled with,
 * and the targets. The release build (`scripts/release.ts`), `deno task
 * compile` and the compile check in `tests/unit/compile_test.ts` all read this one
 * list, so they cannot drift apart.
 */
import { LIBC_PATHS } from "../lib/heap_trim.ts";

/** A program shipped as a standalone binary. */
export interface Program {
  /** Binary name. */
  name: string;
  /** Entry module, relative to the repository root. */
  entry: string;
  /** `deno compile` permission flags: the narrowest set the program runs with. */
  permissions: readonly string[];
}

/**
 * mq2wsbridge: net (broker, WebSocket API, AWS), read (INI and CA files), env
 * and sys (the AWS SDK reads its settings from the environment and the OS
 * release), and write in /tmp and /run/mq2wsbridge (systemd's
 * RuntimeDirectory=) only, for the private Unix socket of the WebSocket
 * relay (handlers/ws/relay.ts). bridgetester also writes its report and JSON
 * summary. Neither may run subprocesses or bring in native code: mq2wsbridge
 * may open one library with ffi, the system's C library, which every process has
 * already loaded, at the paths of lib/heap_trim.ts only, to call glibc's
 * `malloc_trim` when it goes quiet (lib/heap_trim.ts says why).
 */
export const PROGRAMS: readonly Program[] = [
  {
    name: "mq2wsbridge",
    entry: "main.ts",
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-write=/tmp,/run/mq2wsbridge",
      "--allow-env",
      "--allow-sys",
      `--allow-ffi=${LIBC_PATHS.join(",")}`,
    ],
  },
  {
    name: "bridgetester",
    entry: "tester.ts",
    permissions: ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"],
  },
];

/** The permission flags `name` is compiled with, for running it from source the same way. */
export function permissionsOf(name: "mq2wsbridge" | "bridgetester"): string[] {
  return [...PROGRAMS.find((p) => p.name === name)!.permissions];
}

/** Release architecture name (as `uname -m` prints it) for each `deno compile` target. */
export const TARGETS = {
  "x86_64-unknown-linux-gnu": "x86_64",
  "aarch64-unknown-linux-gnu": "aarch64",
} as const;

/** A `deno compile --target` value. */
export type Target = keyof typeof TARGETS;

/** Every target, in a fixed order. */
export const ALL_TARGETS = Object.keys(TARGETS) as Target[];

/**
 * Arguments for `deno` that compile `program` for `target` into the file
 * `output`; with `importMap`, the build stamp's (scripts/build_stamp.ts).
 */
export function compileArgs(program: Program, target: Target, output: string, importMap?: string): string[] {
  const map = importMap ? ["--import-map", importMap] : [];
  return ["compile", ...program.permissions, ...map, "--target", target, "--output", output, program.entry];
}

/** Name of the release archive for a target, without `.tar.gz`; also its top directory. */
export function archiveBase(target: Target): string {
  return `mq2wsbridge-linux-${TARGETS[target]}`;
}
