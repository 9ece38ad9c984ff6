import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __fu(new URL('.', import.meta.url));
import{b as o}from"./chunks/chunk-72HTSAA3.js";import"./chunks/chunk-QWFWNJFA.js";o("memoh-workspace post: nothing recorded");
