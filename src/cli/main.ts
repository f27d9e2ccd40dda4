#!/usr/bin/env node
import "../shared/requireSupportedNode.js";
import { main } from "./program.js";

process.exitCode = await main(process.argv.slice(2));
