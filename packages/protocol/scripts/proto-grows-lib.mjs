// The wire contract only grows (issue 15 item 4, docs/adr/0034): a .proto is described as a plain
// snapshot (messages with their fields' numbers, names, types and labels, reserved numbers and
// names; enums with their values; services with their rpcs) and compared with the snapshot recorded
// at the baseline. Adding is always fine; what an agent or coordinator of another version would
// misread is not. Pure functions: the CLI (proto-grows.mjs beside it) does the files.
import { createRequire } from 'node:module';

// The parser @grpc/proto-loader (and so the generated code) uses: one reading of the .proto.
const requireFromLoader = createRequire(createRequire(import.meta.url).resolve('@grpc/proto-loader'));
const protobuf = requireFromLoader('protobufjs');

const strip = (name) => name.replace(/^\./, '');

/** A field's type: a scalar's name, or the full name of the message or enum it refers to. */
function typeOf(field) {
  return field.resolvedType ? strip(field.resolvedType.fullName) : field.type;
}

/** How the field is laid out on the wire beside its type: repeated, map<key>, optional or plain. */
function labelOf(field) {
  if (field.map) return `map<${field.keyType}>`;
  if (field.repeated) return 'repeated';
  if (field.options?.proto3_optional) return 'optional';
  return 'singular';
}

function reservedOf(reserved) {
  const numbers = [];
  const names = [];
  for (const r of reserved ?? []) {
    if (typeof r === 'string') names.push(r);
    else numbers.push([r[0], r[1]]);
  }
  return { numbers, names };
}

/** Every message, enum and service of a loaded, resolved protobufjs root, by full name. */
export function describeRoot(root, fileOf = (obj) => obj.filename ?? '') {
  const files = {};
  const into = (obj) => {
    const file = fileOf(obj);
    files[file] ??= { messages: {}, enums: {}, services: {} };
    return files[file];
  };
  const walk = (ns) => {
    for (const obj of ns.nestedArray ?? []) {
      const name = strip(obj.fullName);
      if (obj instanceof protobuf.Type) {
        const fields = {};
        for (const f of obj.fieldsArray) {
          fields[String(f.id)] = {
            name: f.name,
            type: typeOf(f),
            label: labelOf(f),
            ...(f.partOf && !f.partOf.name.startsWith('_') ? { oneof: f.partOf.name } : {}),
          };
        }
        into(obj).messages[name] = { fields, reserved: reservedOf(obj.reserved) };
      } else if (obj instanceof protobuf.Enum) {
        into(obj).enums[name] = { values: { ...obj.values }, reserved: reservedOf(obj.reserved) };
      } else if (obj instanceof protobuf.Service) {
        const rpcs = {};
        for (const m of obj.methodsArray) {
          rpcs[m.name] = {
            request: strip(m.resolvedRequestType.fullName),
            requestStream: Boolean(m.requestStream),
            response: strip(m.resolvedResponseType.fullName),
            responseStream: Boolean(m.responseStream),
          };
        }
        into(obj).services[name] = { rpcs };
      }
      if (obj.nestedArray) walk(obj);
    }
  };
  walk(root);
  return files;
}

/** The snapshot of one self-contained .proto text (no imports): for tests and fixtures. */
export function describeText(text) {
  const { root } = protobuf.parse(text, { keepCase: true });
  root.resolveAll();
  return describeRoot(root, () => 'inline')['inline'] ?? { messages: {}, enums: {}, services: {} };
}

/** Loads every .proto (imports resolved from `protoRoot`) and describes each file. */
export function describeFiles(protoRoot, relFiles, join) {
  const root = new protobuf.Root();
  // google/protobuf/* are protobufjs's own common types; everything else is under protoRoot.
  root.resolvePath = (_origin, target) =>
    target.startsWith('google/protobuf/') ? target : join(protoRoot, target);
  root.loadSync(relFiles, { keepCase: true });
  root.resolveAll();
  const prefix = protoRoot.endsWith('/') ? protoRoot : `${protoRoot}/`;
  return describeRoot(root, (obj) => (obj.filename ?? '').replace(prefix, ''));
}

/** All files' snapshots as one, by full name: a message may move between files. */
export function merge(files) {
  const all = { messages: {}, enums: {}, services: {} };
  for (const f of Object.values(files)) {
    Object.assign(all.messages, f.messages);
    Object.assign(all.enums, f.enums);
    Object.assign(all.services, f.services);
  }
  return all;
}

const inRanges = (n, ranges) => ranges.some(([a, b]) => n >= a && n <= b);
const show = (f) => `${f.label === 'singular' ? '' : `${f.label} `}${f.type} ${f.name}`;

/**
 * What `now` breaks of `base` (both from describeText/merge): one sentence per problem, naming the
 * element and what to do. Empty when `now` only adds.
 */
export function compareContracts(base, now) {
  const problems = [];
  for (const [msg, was] of Object.entries(base.messages)) {
    const is = now.messages[msg];
    if (!is) {
      problems.push(`message ${msg} was removed: keep it (mark it deprecated) so older peers still parse it`);
      continue;
    }
    for (const [num, f] of Object.entries(was.fields)) {
      const g = is.fields[num];
      const n = Number(num);
      if (!g) {
        if (!inRanges(n, is.reserved.numbers)) {
          problems.push(
            `field ${num} (${f.name}) of ${msg} was removed without \`reserved ${num}; reserved "${f.name}";\`: add both so neither is reused`,
          );
        }
        continue;
      }
      if (g.name !== f.name) {
        problems.push(
          `field number ${num} of ${msg} is reused: it was ${show(f)}, it is now ${show(g)}; give the new field a new number`,
        );
      } else if (g.type !== f.type || g.label !== f.label) {
        problems.push(
          `field ${num} (${f.name}) of ${msg} is retyped: ${show(f)} became ${show(g)}; add a new field with a new number instead`,
        );
      }
      if ((g.oneof ?? null) !== (f.oneof ?? null)) {
        problems.push(
          `field ${num} (${f.name}) of ${msg} moved ${f.oneof ? `out of oneof ${f.oneof}` : 'into a oneof'}${g.oneof ? ` (now in ${g.oneof})` : ''}: older peers read it differently`,
        );
      }
    }
    for (const range of was.reserved.numbers) {
      for (const [num, g] of Object.entries(is.fields)) {
        if (inRanges(Number(num), [range])) {
          problems.push(`field ${num} (${g.name}) of ${msg} reuses a reserved number: pick a new one`);
        }
      }
      if (!is.reserved.numbers.some(([a, b]) => a <= range[0] && b >= range[1])) {
        problems.push(
          `${msg} no longer reserves ${range[0]}${range[1] !== range[0] ? ` to ${range[1]}` : ''}: keep it reserved`,
        );
      }
    }
    for (const name of was.reserved.names) {
      if (!is.reserved.names.includes(name))
        problems.push(`${msg} no longer reserves the name "${name}": keep it reserved`);
    }
  }
  for (const [en, was] of Object.entries(base.enums)) {
    const is = now.enums[en];
    if (!is) {
      problems.push(`enum ${en} was removed: keep it so older peers still read its values`);
      continue;
    }
    for (const [name, n] of Object.entries(was.values)) {
      if (!(name in is.values)) {
        if (!inRanges(n, is.reserved.numbers)) {
          problems.push(
            `enum value ${en}.${name} (${n}) was removed without \`reserved ${n}; reserved "${name}";\`: keep it, or reserve both`,
          );
        }
      } else if (is.values[name] !== n) {
        problems.push(
          `enum value ${en}.${name} is renumbered from ${n} to ${is.values[name]}: a number keeps its meaning`,
        );
      }
    }
    for (const [name, n] of Object.entries(is.values)) {
      const old = Object.entries(was.values).find(([k, v]) => v === n && k !== name && !(k in is.values));
      if (old && !(name in was.values)) {
        problems.push(`enum value ${en}.${name} reuses ${n}, which was ${old[0]}: give it a new number`);
      }
    }
  }
  for (const [svc, was] of Object.entries(base.services)) {
    const is = now.services[svc];
    if (!is) {
      problems.push(`service ${svc} was removed: keep it so older peers can still call it`);
      continue;
    }
    for (const [rpc, r] of Object.entries(was.rpcs)) {
      const q = is.rpcs[rpc];
      if (!q) {
        problems.push(`rpc ${svc}.${rpc} was removed: keep it so older peers can still call it`);
        continue;
      }
      const sig = (x) =>
        `(${x.requestStream ? 'stream ' : ''}${x.request}) returns (${x.responseStream ? 'stream ' : ''}${x.response})`;
      if (sig(q) !== sig(r)) {
        problems.push(
          `rpc ${svc}.${rpc} changed its types: ${sig(r)} became ${sig(q)}; add a new rpc instead`,
        );
      }
    }
  }
  return problems;
}
