import { createMemoryIdentityStore } from './identity-ports';
import { describeIdentityStoreContract } from './testing/identity-store-contract';

describeIdentityStoreContract('memory', async () => ({
  store: createMemoryIdentityStore(),
  cleanup: async () => {},
}));
