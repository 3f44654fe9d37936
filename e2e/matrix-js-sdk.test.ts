/**
 * Real clients against one real homeserver process (the `npm start` path, embedded Postgres): the
 * matrix-js-sdk chat scenario, E2EE included.
 */
import test from 'node:test';
import { chatScenario } from './support/chat-scenario.ts';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;

test.before(async () => {
  server = await startTestServer();
});

// Registered before the server's own teardown, so the clients stop first.
chatScenario(() => server.baseUrl);

test.after(async () => {
  await server?.stop();
});
