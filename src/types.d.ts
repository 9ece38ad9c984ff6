// Files embedded as text at build time (esbuild plugin in scripts/build.mjs; vite's ?raw in tests).
declare module '*?raw' {
  const text: string;
  export default text;
}
declare const __VERSION__: string;
