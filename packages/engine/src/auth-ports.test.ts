import { createMemoryAuthStore } from './auth-ports';
import { describeAuthStoreContract } from './testing/auth-store-contract';

describeAuthStoreContract('memory', async () => ({
  store: createMemoryAuthStore(),
  cleanup: async () => {},
}));
