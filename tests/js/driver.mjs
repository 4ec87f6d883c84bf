// Drives the official JavaScript client (@huggingface/hub, unchanged) through a Space's whole
// workflow against a Hub at HUB_URL with the token TOKEN, and prints what each step saw as one
// JSON object on stdout. tests/emulator/test_emulator_js.py runs it against the aiospace emulator
// and checks every figure against the emulator's own state.
//
//   npm install --prefix tests/js && HUB_URL=http://127.0.0.1:7860 TOKEN=hf_alice node tests/js/driver.mjs
import {
  whoAmI,
  createRepo,
  repoExists,
  uploadFiles,
  listFiles,
  downloadFile,
  spaceInfo,
  listSpaces,
  deleteRepo,
} from "@huggingface/hub";

const hubUrl = process.env.HUB_URL;
const credentials = { accessToken: process.env.TOKEN };
const name = process.env.SPACE ?? "alice/js-app";
const repo = { type: "space", name };
const out = {};

async function refusal(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return { status: err.statusCode ?? null, message: String(err.message) };
  }
}

const me = await whoAmI({ credentials, hubUrl });
out.whoami = { name: me.name, type: me.type };

const created = await createRepo({
  repo,
  sdk: "gradio",
  private: true,
  files: [{ path: "app.py", content: new Blob(["import gradio as gr\nprint('from js')\n"]) }],
  credentials,
  hubUrl,
});
out.created = { repoUrl: created.repoUrl };
// repoExists takes the token as accessToken (it reads no credentials)
const accessToken = credentials.accessToken;
out.exists = await repoExists({ repo, accessToken, hubUrl });
out.existsAnonymously = await repoExists({ repo, hubUrl }); // private: not to strangers
out.missingExists = await repoExists({ repo: { type: "space", name: `${name}-missing` }, accessToken, hubUrl });

const first = await uploadFiles({
  repo,
  files: [{ path: "hello.txt", content: new Blob(["hello from js\n"]) }],
  credentials,
  hubUrl,
});
const second = await uploadFiles({
  repo,
  files: [
    { path: "data/numbers.json", content: new Blob(["[1, 2, 3]\n"]) },
    { path: ".gitattributes", content: new Blob(["*.bin filter=lfs diff=lfs merge=lfs -text\n"]) },
  ],
  parentCommit: first.commit.oid,
  commitTitle: "numbers",
  credentials,
  hubUrl,
});
out.commits = [first.commit.oid, second.commit.oid];
out.stale = await refusal(
  uploadFiles({
    repo,
    files: [{ path: "late.txt", content: new Blob(["late"]) }],
    parentCommit: first.commit.oid,
    credentials,
    hubUrl,
  }),
);

out.files = [];
for await (const entry of listFiles({ repo, recursive: true, credentials, hubUrl })) {
  out.files.push({ path: entry.path, type: entry.type, size: entry.size, oid: entry.oid });
}
const blob = await downloadFile({ repo, path: "hello.txt", credentials, hubUrl });
out.download = { text: await blob.text(), size: blob.size };
const part = await downloadFile({ repo, path: "data/numbers.json", credentials, hubUrl });
out.slice = await part.slice(1, 5).text();
out.missingDownload = await downloadFile({ repo, path: "nope.txt", credentials, hubUrl });

const info = await spaceInfo({
  name,
  additionalFields: ["runtime", "sha", "author", "subdomain", "cardData", "gitalyUid"],
  credentials,
  hubUrl,
});
out.info = { ...info, updatedAt: info.updatedAt.toISOString() };
const atCommit = await spaceInfo({ name, revision: first.commit.oid, additionalFields: ["sha"], credentials, hubUrl });
out.infoAtFirst = atCommit.sha;

out.listed = [];
for await (const space of listSpaces({ search: { owner: "alice" }, additionalFields: ["sha"], credentials, hubUrl })) {
  out.listed.push({ id: space.id, name: space.name, sha: space.sha, private: space.private });
}

await deleteRepo({ repo, credentials, hubUrl });
out.existsAfterDelete = await repoExists({ repo, accessToken, hubUrl });

console.log(JSON.stringify(out));
