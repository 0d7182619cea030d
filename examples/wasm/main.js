// The page: buttons post requests to the worker that owns the store and show its answers.
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const pending = new Map();
let nextRequest = 1;

function call(op, args = {}) {
  const id = nextRequest++;
  worker.postMessage({ id, op, ...args });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

worker.onmessage = ({ data }) => {
  const request = pending.get(data.id);
  if (!request) return;
  pending.delete(data.id);
  if (data.error) request.reject(new Error(data.error));
  else request.resolve(data.result);
};

const $ = (id) => document.getElementById(id);
const buttons = ["insert", "search", "clear", "bench"].map($);

async function refresh() {
  const { count } = await call("count");
  $("status").textContent = `${count} notes`;
  $("status").dataset.count = count;
}

async function run(action) {
  buttons.forEach((b) => (b.disabled = true));
  try {
    await action();
  } catch (error) {
    $("status").textContent = `error: ${error.message}`;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

$("insert").onclick = () => run(async () => { await call("insert", { count: 300 }); await refresh(); });
$("clear").onclick = () => run(async () => { await call("clear"); $("results").replaceChildren(); await refresh(); });
$("search").onclick = () => run(async () => {
  const hits = await call("search", { near: 42, k: 5 });
  $("results").replaceChildren(...hits.map((hit) => {
    const li = document.createElement("li");
    li.textContent = `${hit.record.title} (tag ${hit.record.tag}), distance ${hit.distance.toFixed(4)}`;
    li.dataset.id = hit.id;
    return li;
  }));
});
$("bench").onclick = () => run(async () => {
  $("benchmark").textContent = "running...";
  const report = await call("workload");
  $("benchmark").textContent = JSON.stringify(report, null, 2);
  $("benchmark").dataset.done = "1";
});

run(refresh);
