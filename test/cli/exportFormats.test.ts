import { describe, expect, it } from "vitest";
import { createUserLineWriter } from "../../src/cli/exportFormats.js";

const users = [
  { id: "1", displayName: "Zoë \"Z\" Ångström, 🎉", businessPhones: ["+1 555", "+1 556"], accountEnabled: true, mail: null, extra: { a: 1 } },
  { id: "2", displayName: "line\nbreak", businessPhones: [], accountEnabled: false, mail: "b@contoso.com", extra: null },
];

describe("export formats", () => {
  it("jsonl writes each user as the JSON object it is, one per line", () => {
    const writer = createUserLineWriter("jsonl", { columns: ["id"] });
    const text = users.map((u) => writer.linesFor(u)).join("");
    const lines = text.split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines.map((l) => JSON.parse(l))).toEqual(users);
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual(Object.keys(users[0]!));
  });

  it("csv writes the given columns as its header, quotes what needs quoting, and keeps arrays as JSON", () => {
    const writer = createUserLineWriter("csv", { columns: ["id", "displayName", "businessPhones", "accountEnabled", "mail", "extra"] });
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

  it("csv keeps every column, in the given order, when the first user lacks one and later users have keys it does not", () => {
    const writer = createUserLineWriter("csv", { columns: ["id", "mail", "jobTitle", "displayName"] });
    const text = [
      { id: "1", displayName: "One" },
      { id: "2", jobTitle: "Engineer", displayName: "Two", mail: "two@contoso.com", city: "Oslo" },
      { displayName: "Three", id: "3", jobTitle: null },
    ]
      .map((u) => writer.linesFor(u))
      .join("");
    expect(text).toBe(["id,mail,jobTitle,displayName", "1,,,One", "2,two@contoso.com,Engineer,Two", "3,,,Three", ""].join("\n"));
  });

  it("csv finds a property Graph spells in another case than USER_SYNC_SELECT", () => {
    const writer = createUserLineWriter("csv", { columns: ["id", "displayname", "JobTitle"] });
    expect(writer.linesFor({ id: "1", displayName: "One", jobTitle: "Engineer" })).toBe("id,displayname,JobTitle\n1,One,Engineer\n");
  });
});
