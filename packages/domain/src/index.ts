export * from './fleet';
export * from './ops';
export * from './plan';
export * from './messages';
export * from './groups';
export * from './compile-minor';
export * from './run-state';
export * from './lb-config';
