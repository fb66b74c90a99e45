// The Configuration tab: hyperparameters, user properties and configuration items, each editable when allowed.
import { useState } from "react";
import { api, messageOf, type Schemas, type Task } from "../../api/client";
import { useToast } from "../../ui";
import { Field } from "./Field";

/** `name=value` lines, one per item, as a text to edit. */
function linesOf(items: [string, string][]): string {
  return items.map(([k, v]) => `${k}=${v}`).join("\n");
}

/** Reads `name=value` lines back; `key` checks a name (a message for a bad one). */
function parseLines(text: string, key: RegExp, what: string): [string, string][] | string {
  const out: [string, string][] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    const name = eq < 0 ? "" : line.slice(0, eq).trim();
    if (!key.test(name)) return `Line ${i + 1}: write ${what}=value`;
    out.push([name, line.slice(eq + 1)]);
  }
  return out;
}

/** A section shown as fields, edited as `name=value` lines when `editable`. */
function EditableSection(props: { title: string; items: [string, string][]; editable: boolean; hint: string; keyPattern: RegExp; keyName: string; save(items: [string, string][]): Promise<void> }) {
  const [text, setText] = useState<string | null>(null);
  const toast = useToast();
  async function save() {
    const parsed = parseLines(text ?? "", props.keyPattern, props.keyName);
    if (typeof parsed === "string") return toast(`${props.title}: ${parsed}`, true);
    try {
      await props.save(parsed);
      setText(null);
    } catch (e) {
      toast(messageOf(e), true);
    }
  }
  return (
    <section>
      <h4>
        {props.title}
        {props.editable && text === null && (
          <button className="link" onClick={() => setText(linesOf(props.items))} aria-label={`Edit ${props.title}`}>
            Edit
          </button>
        )}
      </h4>
      {text !== null ? (
        <div className="form">
          <textarea value={text} onChange={(e) => setText(e.target.value)} rows={Math.max(4, props.items.length + 2)} aria-label={props.title} className="code" placeholder={props.hint} />
          <footer>
            <button onClick={() => setText(null)}>Cancel</button>
            <button className="primary" onClick={() => void save()}>
              Save
            </button>
          </footer>
        </div>
      ) : props.items.length ? (
        props.items.map(([k, v]) => (
          <Field key={k} label={k}>
            {v}
          </Field>
        ))
      ) : (
        <p className="muted">None.</p>
      )}
    </section>
  );
}

/** Hyperparameters and configuration (editable on Drafts) and user properties (editable until published). */
export function ConfigurationTab({ task, onSaved }: { task: Task; onSaved(): void }) {
  const draft = task.status === "created";
  const patch = async (body: Partial<Schemas["EditTask"]>) => {
    await api.PATCH("/api/v1/tasks/{id}", { params: { path: { id: task.id } }, body: body as Schemas["EditTask"] });
    onSaved();
  };
  const params = Object.entries(task.hyperparams ?? {}).filter(([section]) => section !== "properties");
  const paramItems = params.flatMap(([section, ps]) => Object.entries(ps).map(([name, p]) => [`${section}/${name}`, p.value] as [string, string]));
  const props = Object.entries(task.hyperparams?.properties ?? {}).map(([k, p]) => [k, p.value] as [string, string]);
  const config = Object.entries(task.configuration ?? {});
  return (
    <div className="sections">
      <EditableSection
        title="Hyperparameters"
        items={paramItems}
        editable={draft}
        hint="Args/lr=0.01"
        keyPattern={/^[^/]+\/.+$/}
        keyName="section/name"
        save={(items) => {
          const hyperparams: Schemas["BTreeMap"] = {};
          if (task.hyperparams?.properties) hyperparams.properties = task.hyperparams.properties;
          for (const [key, value] of items) {
            const [section, ...rest] = key.split("/");
            const name = rest.join("/");
            const old = task.hyperparams?.[section]?.[name];
            (hyperparams[section] ??= {})[name] = { value, type: old?.type ?? null, description: old?.description ?? null };
          }
          return patch({ hyperparams });
        }}
      />
      <EditableSection
        title="User properties"
        items={props}
        editable={task.status !== "published"}
        hint="dataset=imagenet"
        keyPattern={/^.+$/}
        keyName="name"
        save={(items) =>
          patch({ properties: Object.fromEntries(items.map(([k, v]) => [k, { value: v, type: null, description: task.hyperparams?.properties?.[k]?.description ?? null }])) })
        }
      />
      {config.map(([name, item]) => (
        <ConfigItem key={name} name={name} value={item.value} editable={draft} save={(value) => patch({ configuration: { ...task.configuration, [name]: { ...item, value } } })} />
      ))}
    </div>
  );
}

function ConfigItem({ name, value, editable, save }: { name: string; value: string; editable: boolean; save(value: string): Promise<void> }) {
  const [text, setText] = useState<string | null>(null);
  const toast = useToast();
  return (
    <section>
      <h4>
        {name}
        {editable && text === null && (
          <button className="link" onClick={() => setText(value)} aria-label={`Edit ${name}`}>
            Edit
          </button>
        )}
      </h4>
      {text === null ? (
        <pre className="code">{value}</pre>
      ) : (
        <div className="form">
          <textarea className="code" rows={10} value={text} onChange={(e) => setText(e.target.value)} aria-label={name} />
          <footer>
            <button onClick={() => setText(null)}>Cancel</button>
            <button
              className="primary"
              onClick={() =>
                void save(text)
                  .then(() => setText(null))
                  .catch((e) => toast(messageOf(e), true))
              }
            >
              Save
            </button>
          </footer>
        </div>
      )}
    </section>
  );
}
