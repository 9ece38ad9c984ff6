import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __fu(new URL('.', import.meta.url));
import{e as a,f as b}from"./chunk-MYOSIEXB.js";import"./chunk-QWFWNJFA.js";export{b as docker,a as engineEndpoint};
