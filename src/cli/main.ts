#!/usr/bin/env node
import "../shared/requireSupportedNode.js";
import { limitHeapGrowth } from "../shared/heapGrowth.js";
import { main } from "./program.js";

limitHeapGrowth();

process.exitCode = await main(process.argv.slice(2));
