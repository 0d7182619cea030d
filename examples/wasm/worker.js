// The worker that owns the store: OPFS synchronous access handles exist only in workers.
import init, { QuiverStore, runWorkload } from "./pkg/quiver_wasm.js";

const DIM = 32;

// The example's notes: deterministic vectors, so a search's answer is known in advance.
function vectorOf(id) {
  const v = new Float32Array(DIM);
  let state = (id + 1) * 2654435761 % 4294967296;
  for (let i = 0; i < DIM; i++) {
    state = (state * 1664525 + 1013904223) % 4294967296;
    v[i] = state / 4294967296 - 0.5;
  }
  return v;
}

async function openStore() {
  // After a reload the previous page's worker may still hold the files for a moment.
  for (let attempt = 0; ; attempt++) {
    try {
      return await QuiverStore.open("example.qvr");
    } catch (error) {
      if (error.name !== "AlreadyOpen" || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// Requests that arrive while the store opens wait for it (a handler must be in place at once:
// messages that reach a worker with none are lost).
let store;
const ready = (async () => {
  await init();
  store = await openStore();
  if (!store.listCollections().some((c) => c.name === "notes")) {
    store.createCollection("notes", DIM, { metric: "cosine" });
  }
})();

const handlers = {
  count: () => ({ count: store.count("notes") }),
  insert: ({ count }) => {
    const start = store.count("notes");
    const ids = [], records = [];
    const vectors = new Float32Array(count * DIM);
    for (let i = 0; i < count; i++) {
      const id = start + i;
      ids.push(id);
      vectors.set(vectorOf(id), i * DIM);
      records.push({ title: `note ${id}`, tag: ["home", "work", "travel"][id % 3] });
    }
    store.upsertMany("notes", ids, vectors, records);
    return {};
  },
  search: ({ near, k }) => store.search("notes", vectorOf(near), k),
  clear: () => {
    store.deleteCollection("notes");
    store.createCollection("notes", DIM, { metric: "cosine" });
    return {};
  },
  // The browser half of the browser-versus-native comparison (wasm/examples/native_workload.rs
  // runs the same workload natively).
  workload: async () => JSON.parse(await runWorkload("workload.qvr", 10000, 384, 500, 200)),
};

self.onmessage = async ({ data }) => {
  try {
    await ready;
    const result = await handlers[data.op](data);
    self.postMessage({ id: data.id, result });
  } catch (error) {
    self.postMessage({ id: data.id, error: `${error.name}: ${error.message}` });
  }
};
