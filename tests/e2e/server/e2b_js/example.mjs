// The E2B JS SDKs' documented calls against promptkiln serve (E2B_API_URL, E2B_SANDBOX_URL and
// E2B_API_KEY come from the environment). Prints one JSON line; exits non-zero on a failure.
import { Sandbox } from "e2b";
import { Sandbox as CodeInterpreter } from "@e2b/code-interpreter";

const out = {};
const sbx = await Sandbox.create("promptkiln-docs", { timeoutMs: 60_000, metadata: { app: "js" } });
const seen = [];
const run = await sbx.commands.run("echo hello; id -u", { onStdout: (d) => seen.push(d) });
out.stdout = run.stdout;
out.streamed = seen.join("");
await sbx.files.write("/home/user/hello.txt", "Hello, world!");
out.read = await sbx.files.read("/home/user/hello.txt");
const listed = await Sandbox.list({ query: { metadata: { app: "js" } } }).nextItems();
out.listed = listed.map((s) => s.sandboxId).includes(sbx.sandboxId);
await sbx.kill();

const ci = await CodeInterpreter.create({ timeoutMs: 60_000 });
const execution = await ci.runCode(
  "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n6 * 7",
);
out.formats = execution.results.map((r) => r.formats());
out.text = execution.text;
out.png = execution.results[0].png.slice(0, 8);
await ci.kill();
console.log(JSON.stringify(out));
