import { createMemoryStore } from './memory-store';
import { describeStoreContract } from './testing/store-contract';

// The in-memory store must behave exactly like the PostgreSQL one, or engine tests prove nothing.
describeStoreContract('memory store', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
