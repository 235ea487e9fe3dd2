// The graph reads scoring/environment.yml (owned by the Python side). Until it exists, tests serve a stand-in
// for that one path so the rest of the graph can be checked; the program itself always reads the real file.
import type * as fsTypes from "fs";
import * as path from "path";
import { ROOT } from "./harness";

// The real module object (an ES import gives a copy whose properties cannot be spied on).
const fs = jest.requireActual<typeof fsTypes>("fs");

export const CONDA_PATH = path.join(ROOT, "scoring", "environment.yml");
const STAND_IN = "name: mnist-inference\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n";

export function useCondaStandInIfMissing(): void {
  if (fs.existsSync(CONDA_PATH)) return;
  const exists = fs.existsSync;
  const read = fs.readFileSync;
  jest.spyOn(fs, "existsSync").mockImplementation((p) => (p === CONDA_PATH ? true : exists(p)));
  jest
    .spyOn(fs, "readFileSync")
    .mockImplementation(((p: fsTypes.PathOrFileDescriptor, o?: unknown) =>
      p === CONDA_PATH ? STAND_IN : read(p, o as BufferEncoding)) as typeof fsTypes.readFileSync);
}
