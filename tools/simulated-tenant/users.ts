/**
 * The simulated directory: users generated on demand from (seed, index), so that a tenant of a
 * million users costs no memory and every run with the same seed sees the same people. Nothing here
 * holds more than one user at a time.
 */
import { createHash } from "node:crypto";
import type { GraphUser } from "../../src/graph/types.js";

export interface SimulatedDirectory {
  readonly userCount: number;
  /** The verified domain of the tenant, e.g. "contoso-1a2b3c.onmicrosoft.com". */
  readonly domain: string;
  /** The user at a 0-based index, with the selected properties (the v1.0 default set when absent). */
  userAt(index: number, select?: readonly string[]): GraphUser;
  /** Every user, in index order, generated lazily. */
  users(select?: readonly string[]): Iterable<GraphUser>;
}

/** What Graph v1.0 returns for `/users` without `$select`. */
export const GRAPH_DEFAULT_USER_PROPERTIES: readonly string[] = [
  "businessPhones",
  "displayName",
  "givenName",
  "jobTitle",
  "mail",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "surname",
  "userPrincipalName",
  "id",
];

/**
 * Every property the simulator knows, in Graph's spelling. `$select` of anything else is a 400.
 * Not the product's DEFAULT_SELECT: a superset any configured $select may name, kept apart so that a bad name in the product's default fails here.
 */
export const SIMULATED_USER_PROPERTIES: readonly string[] = [
  "id",
  "userPrincipalName",
  "displayName",
  "givenName",
  "surname",
  "mail",
  "mailNickname",
  "otherMails",
  "proxyAddresses",
  "imAddresses",
  "accountEnabled",
  "userType",
  "externalUserState",
  "externalUserStateChangeDateTime",
  "creationType",
  "createdDateTime",
  "jobTitle",
  "department",
  "companyName",
  "officeLocation",
  "employeeId",
  "employeeType",
  "employeeHireDate",
  "employeeOrgData",
  "streetAddress",
  "city",
  "state",
  "postalCode",
  "country",
  "usageLocation",
  "preferredLanguage",
  "businessPhones",
  "mobilePhone",
  "faxNumber",
  "ageGroup",
  "showInAddressList",
  "identities",
  "onPremisesSyncEnabled",
  "onPremisesImmutableId",
  "onPremisesSamAccountName",
  "onPremisesUserPrincipalName",
  "onPremisesDomainName",
  "onPremisesDistinguishedName",
  "onPremisesLastSyncDateTime",
  "signInActivity",
];

/**
 * Properties Graph returns only for a single user: `/users?$select=` with one of them answers
 * 501 NotImplemented (Graph's List users reference, "Optional query parameters").
 */
export const SINGLE_USER_ONLY_PROPERTIES: readonly string[] = [
  "aboutMe",
  "birthday",
  "hireDate",
  "interests",
  "mySite",
  "pastProjects",
  "preferredName",
  "responsibilities",
  "schools",
  "skills",
  "mailboxSettings",
  "deviceEnrollmentLimit",
];
const SINGLE_USER_ONLY = new Set(SINGLE_USER_ONLY_PROPERTIES.map((p) => p.toLowerCase()));

/** The first property of a `$select` that Graph cannot return in a collection, if any. */
export function singleUserOnlyProperty(select: readonly string[] | undefined): string | undefined {
  return select?.find((name) => SINGLE_USER_ONLY.has(name.trim().toLowerCase()));
}

/** Whether a `$select` names signInActivity (500 a page at most, AuditLog.Read.All, refused by delta). */
export function selectsSignInActivity(select: readonly string[] | undefined): boolean {
  return select?.some((name) => name.trim().toLowerCase() === "signinactivity") ?? false;
}

const CANONICAL = new Map(SIMULATED_USER_PROPERTIES.map((p) => [p.toLowerCase(), p]));

/** Graph's spelling of a property name (matching is case-insensitive), or undefined when unknown. */
export function canonicalUserProperty(name: string): string | undefined {
  return CANONICAL.get(name.trim().toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: a 32-bit PRNG seeded from (seed, index, stream).

function hash32(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    let x = part >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= x & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
      x >>>= 8;
    }
    // Also fold in the high bits of large indexes.
    let hi = Math.floor(part / 0x1_0000_0000) >>> 0;
    for (let i = 0; i < 4 && hi !== 0; i++) {
      h ^= hi & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
      hi >>>= 8;
    }
  }
  return h >>> 0;
}

class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32 */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  digits(count: number): string {
    let s = "";
    for (let i = 0; i < count; i++) s += String(this.int(10));
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Name pools. Each culture has names in its script and an ASCII alias used for UPNs and mail.

interface Person {
  givenName: string;
  surname: string;
  /** Display order differs by culture (family name first for CJK). */
  displayName: string;
  alias: string;
  preferredLanguage: string;
  country: string;
  usageLocation: string;
  city: string;
}

type Culture = (r: Random) => Person;

const latin: Culture = (r) => {
  const given = r.pick(["Ana", "Zoë", "Jürgen", "Siobhán", "Chloé", "José", "Mary-Kate", "Łukasz", "Ngozi", "Søren", "Ólafur", "Priya", "Liam", "Amélie", "Mateo", "Dörte"]);
  const sur = r.pick(["García", "O'Brien", "Müller", "Núñez", "Smith", "Dubois", "Kowalski", "van der Berg", "Nakamura-Jones", "Ørsted", "Okafor", "Lefèvre", "Ó Súilleabháin", "Costa", "Hernández López"]);
  const place = r.pick([
    ["US", "Seattle", "en-US"],
    ["GB", "Dublin", "en-GB"],
    ["DE", "München", "de-DE"],
    ["FR", "Paris", "fr-FR"],
    ["ES", "Sevilla", "es-ES"],
    ["PL", "Kraków", "pl-PL"],
    ["BR", "São Paulo", "pt-BR"],
    ["NG", "Lagos", "en-NG"],
  ] as const);
  return {
    givenName: given,
    surname: sur,
    displayName: `${given} ${sur}`,
    alias: asciiAlias(`${given}.${sur}`),
    country: place[0],
    usageLocation: place[0],
    city: place[1],
    preferredLanguage: place[2],
  };
};

const cjk: Culture = (r) => {
  const kind = r.int(3);
  if (kind === 0) {
    const [sur, surAlias] = r.pick([["王", "wang"], ["李", "li"], ["张", "zhang"], ["刘", "liu"], ["陈", "chen"]] as const);
    const [given, givenAlias] = r.pick([["伟", "wei"], ["芳", "fang"], ["秀英", "xiuying"], ["静", "jing"], ["强", "qiang"]] as const);
    return { givenName: given, surname: sur, displayName: `${sur}${given}`, alias: `${givenAlias}.${surAlias}`, country: "CN", usageLocation: "CN", city: "上海", preferredLanguage: "zh-CN" };
  }
  if (kind === 1) {
    const [sur, surAlias] = r.pick([["佐藤", "sato"], ["鈴木", "suzuki"], ["高橋", "takahashi"], ["田中", "tanaka"]] as const);
    const [given, givenAlias] = r.pick([["花子", "hanako"], ["翔太", "shota"], ["さくら", "sakura"], ["健一", "kenichi"]] as const);
    return { givenName: given, surname: sur, displayName: `${sur} ${given}`, alias: `${givenAlias}.${surAlias}`, country: "JP", usageLocation: "JP", city: "東京", preferredLanguage: "ja-JP" };
  }
  const [sur, surAlias] = r.pick([["김", "kim"], ["이", "lee"], ["박", "park"]] as const);
  const [given, givenAlias] = r.pick([["민준", "minjun"], ["서연", "seoyeon"], ["지호", "jiho"]] as const);
  return { givenName: given, surname: sur, displayName: `${sur}${given}`, alias: `${givenAlias}.${surAlias}`, country: "KR", usageLocation: "KR", city: "서울", preferredLanguage: "ko-KR" };
};

const arabic: Culture = (r) => {
  const [given, givenAlias] = r.pick([["محمد", "mohammed"], ["فاطمة", "fatima"], ["أحمد", "ahmed"], ["ليلى", "layla"], ["يوسف", "youssef"]] as const);
  const [sur, surAlias] = r.pick([["الأحمد", "alahmad"], ["حداد", "haddad"], ["المنصوري", "almansoori"], ["خوري", "khoury"]] as const);
  const place = r.pick([["AE", "دبي", "ar-AE"], ["SA", "الرياض", "ar-SA"], ["EG", "القاهرة", "ar-EG"]] as const);
  return { givenName: given, surname: sur, displayName: `${given} ${sur}`, alias: `${givenAlias}.${surAlias}`, country: place[0], usageLocation: place[0], city: place[1], preferredLanguage: place[2] };
};

const cyrillic: Culture = (r) => {
  const [given, givenAlias] = r.pick([["Иван", "ivan"], ["Ольга", "olga"], ["Дмитрий", "dmitry"], ["Анна", "anna"], ["Олександр", "oleksandr"]] as const);
  const [sur, surAlias] = r.pick([["Петров", "petrov"], ["Смирнова", "smirnova"], ["Шевченко", "shevchenko"], ["Иванов", "ivanov"]] as const);
  const place = r.pick([["UA", "Київ", "uk-UA"], ["BG", "София", "bg-BG"], ["KZ", "Алматы", "ru-KZ"]] as const);
  return { givenName: given, surname: sur, displayName: `${given} ${sur}`, alias: `${givenAlias}.${surAlias}`, country: place[0], usageLocation: place[0], city: place[1], preferredLanguage: place[2] };
};

const CULTURES: readonly Culture[] = [latin, latin, latin, latin, cjk, arabic, cyrillic];
const EMOJI = ["🌻", "🚀", "🎸", "🦊", "☕", "👩🏽‍💻", "🏳️‍🌈"];
const DEPARTMENTS = ["Finance", "Engineering", "Sales", "Human Resources", "Legal & Compliance", "Research/Development", "Support"];
const TITLES = ["Engineer", "Senior Engineer", "Accountant", "Sales Manager", "Paralegal", "Director", "Support Specialist", "Intern"];
const PARTNER_DOMAINS = ["fabrikam.com", "contoso.co.uk", "northwind.example", "gmail.com", "outlook.com", "adatum.de"];
const EMPLOYEE_TYPES = ["Employee", "Contractor", "Consultant", "Vendor"];

function asciiAlias(text: string): string {
  return (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .replace(/ø/gi, "o")
      .replace(/ł/gi, "l")
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, "")
      .replace(/\.{2,}/g, ".")
      .replace(/^\.|\.$/g, "") || "user"
  );
}

function guidFrom(bytes: Buffer): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const CREATED_EPOCH_MS = Date.UTC(2016, 0, 4, 8, 0, 0);

/** The full user (every simulated property) at an index. */
function generateUser(seed: number, index: number, domain: string): Record<string, unknown> & { id: string } {
  const r = new Random(hash32(seed, index, 0x5eed));
  const idBytes = createHash("sha256").update(`simulated-user:${seed}:${index}`).digest();
  const id = guidFrom(idBytes);
  const person = r.pick(CULTURES)(r);
  const isGuest = r.chance(0.12);
  const isService = !isGuest && r.chance(0.03);
  const synced = !isGuest && !isService && r.chance(0.35);
  const suffix = index.toString(36);
  const createdMs = CREATED_EPOCH_MS + index * 97_000 + r.int(86_400) * 1000;

  let displayName = person.displayName;
  let givenName: string | null = person.givenName;
  let surname: string | null = person.surname;
  if (r.chance(0.06)) displayName = `${displayName} ${r.pick(EMOJI)}`;
  if (r.chance(0.04)) givenName = null;
  if (r.chance(0.04)) surname = null;

  const alias = `${person.alias}.${suffix}`;
  let userPrincipalName: string;
  let mail: string | null;
  let otherMails: string[] = [];
  let proxyAddresses: string[] = [];
  let userType = "Member";
  let externalUserState: string | null = null;
  let externalUserStateChangeDateTime: string | null = null;
  let creationType: string | null = null;
  let identities: Array<Record<string, string>>;

  if (isGuest) {
    const partner = r.pick(PARTNER_DOMAINS);
    const external = `${person.alias}${suffix}@${partner}`;
    userPrincipalName = `${external.replace("@", "_")}#EXT#@${domain}`;
    mail = external;
    otherMails = [external];
    proxyAddresses = [`SMTP:${external}`];
    userType = "Guest";
    creationType = "Invitation";
    const pending = r.chance(0.3);
    externalUserState = pending ? "PendingAcceptance" : "Accepted";
    externalUserStateChangeDateTime = isoSeconds(createdMs + (pending ? 0 : 3_600_000));
    identities = [{ signInType: "userPrincipalName", issuer: domain, issuerAssignedId: userPrincipalName }];
    if (!pending) identities.push({ signInType: "federated", issuer: partner.endsWith("gmail.com") ? "google.com" : "ExternalAzureAD", issuerAssignedId: external });
  } else if (isService) {
    displayName = `svc-${r.pick(["backup", "scanner", "hr-sync", "printer"])}-${suffix}`;
    givenName = null;
    surname = null;
    userPrincipalName = `${displayName}@${domain}`;
    mail = null;
    identities = [{ signInType: "userPrincipalName", issuer: domain, issuerAssignedId: userPrincipalName }];
  } else {
    userPrincipalName = `${alias}@${domain}`;
    mail = r.chance(0.9) ? userPrincipalName : null;
    if (mail !== null) {
      proxyAddresses = [`SMTP:${mail}`, `smtp:${alias}@${domain.replace(/\.onmicrosoft\.com$/, ".mail.onmicrosoft.com")}`];
      if (r.chance(0.2)) proxyAddresses.push(`smtp:${person.alias}@legacy.example`, `x500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=${suffix}`);
    }
    if (r.chance(0.15)) otherMails = [`${person.alias}@personal.example`, `${person.alias}.${suffix}@backup.example`];
    identities = [{ signInType: "userPrincipalName", issuer: domain, issuerAssignedId: userPrincipalName }];
  }

  const businessPhones: string[] = [];
  if (!isService && r.chance(0.7)) businessPhones.push(`+1 425 555 ${r.digits(4)}`);
  if (businessPhones.length > 0 && r.chance(0.1)) businessPhones.push(`+44 20 7946 ${r.digits(4)}`);
  const employee = !isGuest && !isService;
  const immutableBytes = createHash("sha256").update(`simulated-onprem:${seed}:${index}`).digest().subarray(0, 16);

  return {
    id,
    userPrincipalName,
    displayName,
    givenName,
    surname,
    mail,
    mailNickname: isGuest ? userPrincipalName.split("#EXT#")[0] : userPrincipalName.split("@")[0],
    otherMails,
    proxyAddresses,
    imAddresses: mail !== null && !isGuest && r.chance(0.5) ? [mail] : [],
    accountEnabled: !r.chance(0.07),
    userType,
    externalUserState,
    externalUserStateChangeDateTime,
    creationType,
    createdDateTime: isoSeconds(createdMs),
    jobTitle: employee && r.chance(0.85) ? r.pick(TITLES) : null,
    department: employee && r.chance(0.85) ? r.pick(DEPARTMENTS) : null,
    companyName: employee ? r.pick(["Simulated Corp", "Simulated Corp GmbH", null] as const) : null,
    officeLocation: employee && r.chance(0.6) ? `${r.pick(["B", "C", "HQ"])}${r.int(40)}/${r.int(500)}` : null,
    employeeId: employee && r.chance(0.8) ? `E${String(100000 + index)}` : null,
    employeeType: employee && r.chance(0.8) ? r.pick(EMPLOYEE_TYPES) : null,
    employeeHireDate: employee && r.chance(0.5) ? isoSeconds(createdMs - r.int(365) * 86_400_000) : null,
    employeeOrgData: employee && r.chance(0.5) ? { division: r.pick(["North", "South", "Platform"]), costCenter: `CC-${r.digits(4)}` } : null,
    streetAddress: employee && r.chance(0.4) ? `${r.int(900) + 1} Main Street` : null,
    city: isService ? null : person.city,
    state: employee && person.country === "US" ? "WA" : null,
    postalCode: employee && r.chance(0.4) ? r.digits(5) : null,
    country: isService ? null : person.country,
    usageLocation: isService ? null : person.usageLocation,
    preferredLanguage: isService ? null : person.preferredLanguage,
    businessPhones,
    mobilePhone: employee && r.chance(0.5) ? `+1 206 555 ${r.digits(4)}` : null,
    faxNumber: null,
    ageGroup: null,
    showInAddressList: isGuest ? false : null,
    identities,
    onPremisesSyncEnabled: synced ? true : null,
    onPremisesImmutableId: synced ? immutableBytes.toString("base64") : null,
    onPremisesSamAccountName: synced ? alias.slice(0, 20) : null,
    onPremisesUserPrincipalName: synced ? `${alias}@corp.simulated.example` : null,
    onPremisesDomainName: synced ? "corp.simulated.example" : null,
    onPremisesDistinguishedName: synced ? `CN=${person.displayName.replace(/,/g, "\\,")},OU=Users,DC=corp,DC=simulated,DC=example` : null,
    onPremisesLastSyncDateTime: synced ? isoSeconds(createdMs + 86_400_000) : null,
    signInActivity: signInActivityOf(seed, index, createdMs),
  };
}

/** Sign-in activity from a stream of its own, so the other properties stay what they were; null for about a fifth (never signed in). */
function signInActivityOf(seed: number, index: number, createdMs: number): Record<string, string | null> | null {
  const r = new Random(hash32(seed, index, 0x519e));
  if (r.chance(0.2)) return null;
  const last = isoSeconds(createdMs + r.int(2_000) * 86_400_000);
  return {
    lastSignInDateTime: last,
    lastSignInRequestId: guidFrom(createHash("sha256").update(`simulated-sign-in:${seed}:${index}`).digest()),
    lastNonInteractiveSignInDateTime: r.chance(0.5) ? last : null,
    lastNonInteractiveSignInRequestId: null,
  };
}

/**
 * Resolves a `$select` list to Graph's spelling. Throws a plain Error naming the first unknown
 * property (the Graph server turns it into a 400).
 */
export function resolveSelect(select: readonly string[] | undefined): readonly string[] {
  if (select === undefined) return GRAPH_DEFAULT_USER_PROPERTIES;
  const resolved: string[] = [];
  for (const name of select) {
    const canonical = canonicalUserProperty(name);
    if (canonical === undefined) throw new Error(`Could not find a property named '${name.trim()}' on type 'microsoft.graph.user'.`);
    if (!resolved.includes(canonical)) resolved.push(canonical);
  }
  return resolved;
}

export function createSimulatedDirectory(options: { userCount: number; seed: number; domain: string }): SimulatedDirectory {
  const { userCount, seed, domain } = options;
  if (!Number.isSafeInteger(userCount) || userCount < 0) throw new Error(`userCount must be a non-negative integer (got ${userCount}).`);
  const userAt = (index: number, select?: readonly string[]): GraphUser => {
    if (!Number.isSafeInteger(index) || index < 0 || index >= userCount) {
      throw new RangeError(`User index ${index} is outside the directory (0..${userCount - 1}).`);
    }
    const full = generateUser(seed, index, domain);
    const properties = resolveSelect(select);
    const user: Record<string, unknown> = {};
    for (const property of properties) user[property] = full[property] ?? null;
    return user as GraphUser;
  };
  return {
    userCount,
    domain,
    userAt,
    *users(select?: readonly string[]) {
      const properties = resolveSelect(select);
      for (let index = 0; index < userCount; index++) yield userAt(index, properties);
    },
  };
}
