import { describe, expect, it } from "vitest";
import { createUserLineWriter } from "../../src/cli/exportFormats.js";

const users = [
  { id: "1", displayName: "Zoë \"Z\" Ångström, 🎉", businessPhones: ["+1 555", "+1 556"], accountEnabled: true, mail: null, extra: { a: 1 } },
  { id: "2", displayName: "line\nbreak", businessPhones: [], accountEnabled: false, mail: "b@contoso.com", extra: null },
];

describe("export formats", () => {
  it("jsonl writes each user as the JSON object it is, one per line", () => {
    const writer = createUserLineWriter("jsonl");
    const text = users.map((u) => writer.linesFor(u)).join("");
    const lines = text.split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l))).toEqual(users);
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual(Object.keys(users[0]!));
  });

  it("csv writes a header from the first user, quotes what needs quoting, and keeps arrays as JSON", () => {
    const writer = createUserLineWriter("csv");
    const text = users.map((u) => writer.linesFor(u)).join("");
    expect(text).toBe(
      [
        "id,displayName,businessPhones,accountEnabled,mail,extra",
        '1,"Zoë ""Z"" Ångström, 🎉","[""+1 555"",""+1 556""]",true,,"{""a"":1}"',
        '2,"line\nbreak",[],false,b@contoso.com,',
        "",
      ].join("\n"),
    );
  });
});
