/**
 * `raftgres show-config` and `raftgres edit-config`: the cluster's dynamic configuration
 * (GET /config), changed through --set/--pg/--apply, replaced with --replace, or edited in
 * $EDITOR; a diff and a question (unless --force), then PATCH /config with the merge patch
 * (PUT /config for --replace). A 409 means someone changed it meanwhile: nothing was written.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { isJsonObject, type JsonObject } from "../../../dcs/json.js";
import { diffAsMergePatch } from "../../../dcs/merge_patch.js";
import { expectSuccess, refusal } from "../answers.js";
import { CLUSTER_ARGUMENT, checkClusterNameOf } from "../cluster_name.js";
import type { CliContext } from "../context.js";
import { CliExit, EXIT, failed, usageError } from "../exit.js";
import { renderDocument } from "../format.js";
import { applyPatches, configDiff, configYaml, parseConfigYaml, parsePgSetting, parseSetting } from "../config_edit.js";

interface EditOptions {
  set: string[];
  pg: string[];
  apply?: string;
  replace?: string;
  force?: boolean;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerEditConfig(program: Command, ctx: CliContext): void {
  program.command("show-config")
    .description("print the cluster's dynamic configuration")
    .argument("[cluster]", CLUSTER_ARGUMENT)
    .option("-f, --format <format>", "yaml or json", "yaml")
    .action(async (clusterName: string | undefined, opts: { format: string }) => {
      if (opts.format !== "yaml" && opts.format !== "json") throw usageError(`--format ${JSON.stringify(opts.format)}: expected yaml or json`);
      await checkClusterNameOf(ctx, clusterName);
      const { config } = await readConfig(ctx);
      ctx.out(opts.format === "yaml" ? configYaml(config).trimEnd() : renderDocument(config, "json"));
    });
  program.command("edit-config")
    .description("change the cluster's dynamic configuration (opens $EDITOR without --set/--pg/--apply/--replace)")
    .option("-s, --set <key=value>", "set a key (a.b.c=value; value read as YAML; null or empty deletes); repeatable", collect, [])
    .option("-p, --pg <name=value>", "set postgresql.parameters.<name>; repeatable", collect, [])
    .option("--apply <file>", "merge a YAML file (- for stdin) into the configuration")
    .option("--replace <file>", "replace the whole configuration with a YAML file (- for stdin)")
    .option("--force", "do not ask for confirmation")
    .option("-q, --quiet", "do not show the diff")
    .argument("[cluster]", CLUSTER_ARGUMENT)
    .action(async (clusterName: string | undefined, opts: EditOptions) => editConfig(ctx, clusterName, opts));
}

async function readConfig(ctx: CliContext): Promise<{ config: JsonObject; etag: string | null }> {
  const answer = expectSuccess(await ctx.api.call("GET", "/config"), "GET /config");
  if (!isJsonObject(answer.json)) throw failed("GET /config did not answer with a JSON object");
  const etag = answer.headers["etag"];
  return { config: answer.json, etag: typeof etag === "string" ? etag : null };
}

async function editConfig(ctx: CliContext, clusterName: string | undefined, opts: EditOptions): Promise<void> {
  if (opts.replace !== undefined && (opts.apply !== undefined || opts.set.length > 0 || opts.pg.length > 0)) {
    throw usageError("--replace takes the whole configuration: it cannot be combined with --set, --pg or --apply");
  }
  // Parse every flag before touching the network: a typo is a usage error, not a half-done edit.
  const patches = [...opts.set.map((s) => parseSetting(s)), ...opts.pg.map(parsePgSetting)];
  const applied = opts.apply === undefined ? null : parseConfigYaml(readInput(ctx, opts.apply), opts.apply);
  const replacement = opts.replace === undefined ? null : parseConfigYaml(readInput(ctx, opts.replace), opts.replace);
  await checkClusterNameOf(ctx, clusterName);
  const { config: before, etag } = await readConfig(ctx);
  let after: JsonObject;
  if (replacement !== null) after = replacement;
  else if (applied === null && patches.length === 0) after = runEditor(ctx, before);
  else after = applyPatches(before, [...(applied === null ? [] : [applied]), ...patches]);
  const diff = configDiff(before, after);
  if (diff === "") {
    ctx.out("Not changed");
    return;
  }
  if (opts.quiet !== true) ctx.out(diff);
  if (opts.force !== true && !(await ctx.prompt.confirm("Apply these changes?"))) throw failed("Aborted: the configuration was not changed");
  const ifMatch = etag === null ? {} : { headers: { "if-match": etag } };
  const answer = replacement !== null
    ? await ctx.api.call("PUT", "/config", { body: after, ...ifMatch })
    : await ctx.api.call("PATCH", "/config", { body: diffAsMergePatch(before, after), ...ifMatch });
  if (answer.status === 409 || answer.status === 412) {
    throw new CliExit(EXIT.failed, "The configuration changed since it was read (HTTP 409): nothing was written. Run edit-config again to edit the current one.");
  }
  if (answer.status < 200 || answer.status >= 300) throw refusal(answer, "Changing the configuration");
  ctx.out("Configuration changed");
}

function readInput(ctx: CliContext, path: string): string {
  try {
    return ctx.io.readFile(path);
  } catch (error: unknown) {
    throw usageError(`cannot read ${path === "-" ? "stdin" : path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function runEditor(ctx: CliContext, before: JsonObject): JsonObject {
  const editor = ctx.io.env["EDITOR"] ?? ctx.io.env["VISUAL"] ?? "vi";
  const dir = mkdtempSync(join(tmpdir(), "raftgres-edit-config-"));
  const file = join(dir, "config.yaml");
  try {
    writeFileSync(file, configYaml(before), { mode: 0o600 });
    const status = ctx.io.edit(editor, file);
    if (status !== 0) throw failed(`the editor (${editor}) exited with status ${status}: the configuration was not changed`);
    return parseConfigYaml(ctx.io.readFile(file), "the edited configuration");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
