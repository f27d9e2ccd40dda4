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

  it("csv always has its header, even with no user (an empty change set)", () => {
    const writer = createUserLineWriter("csv", { columns: ["change", "id"] });
    expect(writer.end()).toBe("change,id\n");
    const used = createUserLineWriter("csv", { columns: ["id"] });
    expect(used.linesFor({ id: "1" }) + used.end()).toBe("id\n1\n");
    expect(createUserLineWriter("jsonl", { columns: ["id"] }).end()).toBe("");
  });

  it("csv escapes formulas and control and bidi characters by default, and writes them as stored with raw", () => {
    const user = { id: "1", a: "=1+1", b: "+1", c: "-1", d: "@x", e: "\u001b[2Jx\u009b\u202e", f: -5, g: "ok" };
    const columns = ["id", "a", "b", "c", "d", "e", "f", "g"];
    expect(createUserLineWriter("csv", { columns }).linesFor(user).split("\n")[1]).toBe("1,'=1+1,'+1,'-1,'@x,\\u001B[2Jx\\u009B\\u202E,-5,ok");
    expect(createUserLineWriter("csv", { columns, raw: true }).linesFor(user).split("\n")[1]).toBe("1,=1+1,+1,-1,@x,\u001b[2Jx\u009b\u202e,-5,ok");
  });

  it("jsonl writes C1 and bidi characters as \\u escapes: the same JSON value", () => {
    const user = { id: "1", displayName: "\u009b31m\u202eexe\u001b\u2028" };
    const line = createUserLineWriter("jsonl", { columns: ["id"] }).linesFor(user);
    expect(line).toBe('{"id":"1","displayName":"\\u009B31m\\u202Eexe\\u001b\\u2028"}\n');
    expect(JSON.parse(line)).toEqual(user);
  });
});
