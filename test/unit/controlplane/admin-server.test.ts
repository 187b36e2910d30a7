import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildAdminServer } from '../../../src/controlplane/admin-server.ts';

describe('controller admin server (built, never listening)', () => {
  it('is Ready once policies are listed, leader or standby', async () => {
    let synced = false;
    const admin = buildAdminServer({
      registry: new Registry(),
      synced: () => synced,
      isLeader: () => false,
      sidecars: () => 0,
    });
    expect((await admin.inject({ url: '/readyz' })).statusCode).toBe(503);
    synced = true;
    const ready = await admin.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'standby', sidecars: 0 });
    expect((await admin.inject({ url: '/healthz' })).statusCode).toBe(200);
    await admin.close();
  });
});
