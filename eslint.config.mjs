import js from "@eslint/js";
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".tools/",
      ".venv/",
      ".local/",
      "coverage/",
      "bench/out/",
      ".stryker-tmp/",
      "reports/",
      "mutants/",
      "**/*.js",
      "**/*.mjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { "@pulumi": pulumi },
    // The Pulumi rules need type information: an Output in a plain template literal is a bug.
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // The program and its components declare resources; they never call Azure themselves. HTTP, tokens and the
    // Azure ML client belong to the CLIs (ops/), which the program runs as command steps.
    files: [
      "index.ts",
      "program.ts",
      "components/**/*.ts",
      "lib/program/**/*.ts",
      "lib/config/**/*.ts",
      "lib/core/**/*.ts",
    ],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["http", "https", "node:http", "node:https", "undici"].map((name) => ({
            name,
            message: "The program declares resources; HTTP belongs to the CLIs in ops/.",
          })),
          patterns: [
            {
              group: ["@azure/*"],
              message: "The program declares resources; Azure SDK calls belong to the CLIs in ops/.",
            },
            {
              group: [
                "**/lib/azure/*",
                "**/lib/azureml/*",
                "../azure/*",
                "../azureml/*",
                "../toolkit/*",
                "**/lib/toolkit/*",
              ],
              message:
                "The program's side imports lib/core, lib/config and lib/program only (README: Layout).",
            },
          ],
        },
      ],
    },
  },
  prettier,
);
