// A test A2A agent built on the official @a2a-js/sdk (JSON-RPC, v1.0 with the v0.3 compat layer).
// Its behaviour is chosen by the message it gets (the data part, or words in the text):
//   {"workMs": 200}          work that long, then complete with a text and a data artifact
//   {"fail": true}           end the task failed;   {"reject": true}: end it rejected
//   {"ignoreCancel": true}   keep working when asked to cancel (the cancel is still recorded)
//   {"waitForRelease": true} work until POST /_peer/release
//   text "http500" / "garbage" / "stall" / "rpcerror": the SendMessage request answers HTTP 500, a
//   non-JSON body, nothing at all, or a JSON-RPC error (the SDK's own errors need a broken request).
// Usage: node peer.mjs [--port N] [--v03-only]. Prints "PEER LISTENING <port>" once it listens.
// Test endpoints (not A2A): GET /_peer/log (tasks seen, cancels received, JSON-RPC methods),
// GET /_peer/task/<id> (one task and its cancels; times also in wall-clock microseconds),
// POST /_peer/release, POST /_peer/reset. Every other request is listed in log.requests.
import express from 'express';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import { TaskState, Role } from '@a2a-js/sdk';

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
const v03Only = args.includes('--v03-only');

let log = { tasks: [], cancels: [], methods: [], requests: [] };
const micros = () => Math.round((performance.timeOrigin + performance.now()) * 1000); // wall clock, µs
const running = new Map(); // taskId -> { cancel(), release() }
let releaseWaiters = [];

function behaviour(message) {
  let text = '';
  let data = {};
  for (const p of message.parts ?? []) {
    if (p.content?.$case === 'text') text += p.content.value;
    if (p.content?.$case === 'data' && p.content.value && typeof p.content.value === 'object') data = { ...data, ...p.content.value };
  }
  return { text, data };
}

const status = (taskId, contextId, state, text) => AgentEvent.statusUpdate({
  taskId, contextId,
  status: {
    state,
    timestamp: new Date().toISOString(),
    message: text === undefined ? undefined : {
      messageId: `${taskId}-${state}`, role: Role.ROLE_AGENT, parts: [{ content: { $case: 'text', value: text } }], taskId, contextId,
      extensions: [], referenceTaskIds: [],
    },
  },
  metadata: undefined,
});

const executor = {
  async execute(ctx, bus) {
    const { taskId, contextId } = ctx;
    const msg = ctx.userMessage;
    const { text, data } = behaviour(msg);
    const entry = { taskId, contextId, messageId: msg.messageId, text, data, at: Date.now(), endedAt: null, endedAtMicros: null, end: null };
    log.tasks.push(entry);
    bus.publish(AgentEvent.task({
      id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: new Date().toISOString() },
      artifacts: [], history: [msg], metadata: undefined,
    }));
    bus.publish(status(taskId, contextId, TaskState.TASK_STATE_WORKING));
    const outcome = await new Promise((resolve) => {
      const r = { cancel: () => { if (!data.ignoreCancel) resolve('canceled'); }, release: () => resolve('done') };
      running.set(taskId, r);
      if (data.waitForRelease) {
        releaseWaiters.push(r);
      } else {
        setTimeout(() => resolve('done'), Number(data.workMs ?? 0));
      }
    });
    running.delete(taskId);
    entry.endedAt = Date.now();
    entry.endedAtMicros = micros();
    if (outcome === 'canceled') {
      entry.end = 'canceled';
      bus.publish(status(taskId, contextId, TaskState.TASK_STATE_CANCELED, 'canceled on request'));
    } else if (data.fail) {
      entry.end = 'failed';
      bus.publish(status(taskId, contextId, TaskState.TASK_STATE_FAILED, 'the test asked this task to fail'));
    } else if (data.reject) {
      entry.end = 'rejected';
      bus.publish(status(taskId, contextId, TaskState.TASK_STATE_REJECTED, 'the test asked this task to be rejected'));
    } else {
      bus.publish(AgentEvent.artifactUpdate({
        taskId, contextId, append: false, lastChunk: true, metadata: undefined,
        artifact: {
          artifactId: 'answer', name: 'answer', description: '', extensions: [], metadata: undefined,
          parts: [{ content: { $case: 'text', value: `done: ${text}` } }, { content: { $case: 'data', value: { echo: data, taskId } } }],
        },
      }));
      entry.end = 'completed';
      bus.publish(status(taskId, contextId, TaskState.TASK_STATE_COMPLETED));
    }
    bus.finished();
  },
  async cancelTask(taskId, bus) {
    log.cancels.push({ taskId, at: Date.now(), atMicros: micros() });
    const r = running.get(taskId);
    if (r) r.cancel();
  },
};

const app = express();
app.use((req, res, next) => {
  if (!req.path.startsWith('/_peer')) log.requests.push(`${req.method} ${req.path}`);
  next();
});
const listener = app.listen(port, '127.0.0.1', () => {
  const actual = listener.address().port;
  const base = `http://127.0.0.1:${actual}/a2a`;
  const card = {
    name: 'reins-test-peer', description: 'A2A test peer for Reins', version: '1.0.0',
    supportedInterfaces: [
      ...(v03Only ? [] : [{ url: base, protocolBinding: 'JSONRPC', protocolVersion: '1.0', tenant: '' }]),
      { url: base, protocolBinding: 'JSONRPC', protocolVersion: '0.3', tenant: '' },
    ],
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    defaultInputModes: ['text/plain', 'application/json'], defaultOutputModes: ['text/plain', 'application/json'],
    skills: [{ id: 'work', name: 'work', description: 'does test work', tags: ['test'], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    securitySchemes: {}, securityRequirements: [], signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
  app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler, legacyCompat: { enabled: true } }));
  app.use('/_peer', express.json());
  app.get('/_peer/log', (req, res) => res.json(log));
  app.get('/_peer/task/:id', (req, res) => res.json({
    task: log.tasks.find((t) => t.taskId === req.params.id) ?? null,
    cancels: log.cancels.filter((c) => c.taskId === req.params.id),
  }));
  app.post('/_peer/release', (req, res) => { const w = releaseWaiters; releaseWaiters = []; w.forEach((r) => r.release()); res.json({ released: w.length }); });
  app.post('/_peer/reset', (req, res) => { log = { tasks: [], cancels: [], methods: [], requests: [] }; res.json({}); });
  app.use('/a2a', express.json({ limit: '10mb' }), (req, res, next) => {
    const body = req.body ?? {};
    log.methods.push({ method: body.method, version: req.get('A2A-Version') ?? null, auth: req.get('Authorization') ?? null, at: Date.now() });
    const words = JSON.stringify(body.params?.message?.parts ?? []);
    if (words.includes('http500')) return res.status(500).send('internal trouble');
    if (words.includes('garbage')) return res.status(200).type('application/json').send('<html>not json');
    if (words.includes('stall')) return; // never answers
    if (words.includes('rpcerror')) return res.json({ jsonrpc: '2.0', id: body.id ?? null, error: { code: -32603, message: 'the test asked for an error' } });
    next();
  }, jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, legacyCompat: { enabled: true } }));
  console.log(`PEER LISTENING ${actual}`);
});
