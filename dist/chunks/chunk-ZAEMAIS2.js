import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __fu(new URL('.', import.meta.url));
import{a as ie,b as oe,c as ne,d as se,e as ae,f as ce,g as le,h as de,i as fe,j as ue,k as me,l as he,m as pe,n as we,o as v,p as $e,q as A,r as ge,s as be}from"./chunk-DTMY6TWT.js";import{a as te}from"./chunk-5AZFYACE.js";import{b as U,c as g,d as R,g as re}from"./chunk-YTQ5CI5B.js";import{createHash as Lt,randomBytes as Mt}from"node:crypto";import{chmod as jt,mkdir as Ct,mkdtemp as _t,readFile as Ft,readdir as Bt,rename as J,rm as Ye,stat as Ht,writeFile as Kt}from"node:fs/promises";import{basename as Ue,dirname as ze,join as _,resolve as Jt}from"node:path";import{access as xt,mkdir as Et,readFile as Rt,rename as q,rm as At}from"node:fs/promises";import{dirname as Pt,join as $}from"node:path";import{randomBytes as ke}from"node:crypto";import{copyFileSync as Ze,createWriteStream as et,linkSync as tt,lstatSync as ye,mkdirSync as j,readdirSync as z,readlinkSync as ve,symlinkSync as Te}from"node:fs";import{mkdir as xe,readFile as rt,rename as Ee,rm as M,stat as Re,writeFile as it}from"node:fs/promises";import{join as w}from"node:path";var ot=15*6e4;async function Ae(e){let t=Date.now();for(let r of z(e)){if(!r.startsWith(".tmp-"))continue;let i=w(e,r),o=await Re(i).catch(()=>{});o&&t-o.mtimeMs>ot&&await M(i,{recursive:!0,force:!0}).catch(()=>{})}}var H=class{constructor(t){this.dir=t}dir;path(t){return w(this.dir,`${t.algo}-${t.hex}`)}async lookup(t){let r=this.path(t);return await Re(r).then(i=>i.isFile(),()=>!1)?r:void 0}async writer(){await xe(this.dir,{recursive:!0}),await Ae(this.dir);let t=w(this.dir,`.tmp-${ke(6).toString("hex")}`),r=et(t,{highWaterMark:8<<20}),i=!1;return r.on("error",()=>{i=!0}),{write:async o=>{i||r.write(o)||await new Promise(c=>{let a=()=>{r.off("drain",a),r.off("error",a),c()};r.on("drain",a),r.on("error",a)})},commit:async o=>{i||(await new Promise(c=>r.end(c)),i||await Ee(t,this.path(o)).catch(()=>{}))},discard:async()=>{r.destroy(),await M(t,{force:!0})}}}},K=class{constructor(t){this.dir=t}dir;async lookup(t){let r=w(this.dir,t),i;try{i=await rt(w(r,"tree"),"utf8")}catch{return}try{let o=i.split(`
`).filter(Boolean).map(a=>JSON.parse(a)),c=nt({dir:r,tree:o},"toolkit.json");if(c&&st(r,o))return{dir:r,tree:o,manifest:c}}catch{}await M(r,{recursive:!0,force:!0})}async store(t,r){await xe(this.dir,{recursive:!0}),await Ae(this.dir);let i=w(this.dir,`.tmp-${t}-${ke(4).toString("hex")}`);try{j(w(i,"files"),{recursive:!0});let o={on:!1},c=0,a=Oe(r,n=>{n[0]==="f"&&(n[5]=c++,W(w(r,n[1]),w(i,"files",String(n[5])),o))});if(await it(w(i,"tree"),`${a.map(n=>JSON.stringify(n)).join(`
`)}
`),await this.lookup(t))return;let l=w(this.dir,t);await M(l,{recursive:!0,force:!0}),await Ee(i,l).catch(n=>{if(n.code!=="ENOTEMPTY"&&n.code!=="EEXIST")throw n})}finally{await M(i,{recursive:!0,force:!0})}}};function nt(e,t){let r=e.tree.find(i=>i[1]===t);return r?.[0]==="f"?w(e.dir,"files",String(r[5])):void 0}function Pe(e,t){try{let r=Oe(t);return r.length===e.tree.length&&r.every((i,o)=>JSON.stringify(i.slice(0,5))===JSON.stringify(e.tree[o]?.slice(0,5)))}catch{return!1}}function Se(e,t){j(t,{recursive:!0});let r={on:!1};for(let i of e.tree){let o=w(t,i[1]);i[0]==="d"?j(o):i[0]==="l"?Te(i[2],o):W(w(e.dir,"files",String(i[5])),o,r)}}function Oe(e,t){let r=[],i=o=>{let c=z(w(e,o),{withFileTypes:!0});c.sort((a,l)=>a.name<l.name?-1:a.name>l.name?1:0);for(let a of c){let l=o?`${o}/${a.name}`:a.name,n=w(e,l),m;if(a.isDirectory())m=["d",l];else if(a.isSymbolicLink())m=["l",l,ve(n)];else if(a.isFile()){let p=ye(n);m=["f",l,p.size,Math.trunc(p.mtimeMs),p.mode&4095,-1]}m&&(t?.(m),r.push(m),m[0]==="d"&&i(l))}};return i(""),r}function st(e,t){for(let r of t){if(r[0]!=="f")continue;let i=ye(w(e,"files",String(r[5])),{throwIfNoEntry:!1});if(!i?.isFile()||i.size!==r[2]||Math.trunc(i.mtimeMs)!==r[3]||(i.mode&4095)!==r[4])return!1}return!0}function V(e,t){j(t,{recursive:!0});let r={on:!1},i=o=>{for(let c of z(w(e,o),{withFileTypes:!0})){let a=o?`${o}/${c.name}`:c.name,l=w(e,a),n=w(t,a);c.isDirectory()?(j(n),i(a)):c.isSymbolicLink()?Te(ve(l),n):c.isFile()&&W(l,n,r)}};i("")}function W(e,t,r){if(!r.on)try{tt(e,t);return}catch(i){if(i.code!=="EXDEV")throw i;r.on=!0}Ze(e,t)}import{once as at}from"node:events";import{createReadStream as ct}from"node:fs";import{mkdir as lt,rm as Ne,stat as dt}from"node:fs/promises";import{createGunzip as ft}from"node:zlib";async function Le(e,t,r){let i=t.expected&&r?await r.lookup(t.expected):void 0;if(i)try{let o=(await dt(i)).size;return{...await De(t,ct(i,{highWaterMark:1<<20}),o,{signal:e.signal}),fromCache:!0}}catch(o){if(e.signal.aborted||o instanceof C)throw o;e.reporter.warn(`${t.src.file}: cached copy unusable (${R(o)}); downloading it again`),await Ne(i,{force:!0})}return e.withRetries(t.src,async()=>{let o=t.expected&&r?await r.writer():void 0;try{let{body:c,size:a}=await e.open(t.src),l=await De(t,c,a,{tee:o,meter:e.meter(t.src,a)});return o&&t.expected&&await o.commit(t.expected),{...l,fromCache:!1}}finally{await o?.discard()}})}async function De(e,t,r,{tee:i,meter:o,signal:c}){await Ne(e.dest,{recursive:!0,force:!0}),await lt(e.dest,{recursive:!0});let a=new ie(e.expected),l=ht(e),n,m=async h=>{if(!n)try{await l.write(h)}catch(u){if(Ie(u))throw new C(e,u);n=u}};try{for await(let h of t){if(c?.aborted)throw c.reason;a.update(h),o?.add(h.length),await i?.write(h),await m(h)}}catch(h){throw l.abort(),he(h,a.bytes,r)}if(!n)try{await l.end()}catch(h){if(Ie(h))throw new C(e,h);n=h}o?.done(),pe(a.bytes,r);let{sha256:p}=a.finish(e.src.file);if(n){let h=e.expected?`its ${e.expected.source} checksum matches, but`:"";throw new g(`${e.src.file}: ${h} it is not a valid .tar.gz: ${R(n)} (${e.src.url})`,`the mirror publishes a broken file: set ${e.src.option} to another mirror`)}return{sha256:p,bytes:a.bytes}}var C=class extends g{constructor(t,r){super(`${t.src.file}: writing into ${t.dest} failed: ${R(r)}`,"free space on that filesystem (df -h), or build the toolkit on another one (--out)",{cause:r})}},ut=new Set(["ENOSPC","EDQUOT","EROFS","EIO","EACCES","EPERM","EMFILE","ENFILE"]);function Ie(e){return ut.has(e?.code??"")}var mt=8<<20;function ht(e){let r=ft({chunkSize:262144,writableHighWaterMark:4194304}),i=ae({dest:e.dest,strip:e.strip,filter:e.filter}),o=[],c=0,a=!1,l=!1,n,m=new Promise((u,P)=>{n={resolve:u,reject:P}});m.catch(()=>{});let p=()=>{a=!1;try{for(;o.length;){let u=o.shift();c-=u.length,i.write(u)}l?(i.end(),n.resolve()):r.isPaused()&&r.resume()}catch(u){r.destroy(u)}},h=()=>{a||(a=!0,setImmediate(p))};return r.on("data",u=>{o.push(u),c+=u.length,c>mt&&r.pause(),h()}),r.on("end",()=>{l=!0,h()}),r.on("error",u=>{o.length=0,i.abort(),n.reject(u)}),{async write(u){r.write(u)||await Promise.race([at(r,"drain"),m])},async end(){r.end(),await m},abort(){r.destroy(),i.abort()}}}import{createHash as kt}from"node:crypto";import{chmod as yt,mkdir as vt,writeFile as Tt}from"node:fs/promises";import{join as X}from"node:path";var Me=`#!/bin/sh
# Memoh toolkit wrapper: runs the toolkit's Node.js build for this image's C library.
# A musl image (a /lib/ld-musl-*.so.1 exists) gets node-musl, with its runtime-lib first on the library path;
# any other image gets node-glibc. The toolkit is found from this file's own place (bin/..), so a toolkit
# mounted anywhere works, /opt/memoh/toolkit included.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH='' cd -- "\${self%/*}/.." && pwd) || exit 127
# Memoh's own test: with several matching loaders \`[\` errors out, and that counts as glibc.
if [ -f /lib/ld-musl-*.so.1 ] 2>/dev/null; then
  NODEDIR=$TOOLKIT/node-musl
  LD_LIBRARY_PATH=$NODEDIR/runtime-lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
else
  NODEDIR=$TOOLKIT/node-glibc
fi
exec "$NODEDIR/bin/node" "$@"
`;var je=`#!/bin/sh
# Memoh toolkit wrapper: runs npm from the toolkit Node.js build for this image's C library.
# A musl image (a /lib/ld-musl-*.so.1 exists) gets node-musl, with its runtime-lib first on the library path;
# any other image gets node-glibc. The toolkit is found from this file's own place (bin/..), so a toolkit
# mounted anywhere works, /opt/memoh/toolkit included.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH='' cd -- "\${self%/*}/.." && pwd) || exit 127
# Memoh's own test: with several matching loaders \`[\` errors out, and that counts as glibc.
if [ -f /lib/ld-musl-*.so.1 ] 2>/dev/null; then
  NODEDIR=$TOOLKIT/node-musl
  LD_LIBRARY_PATH=$NODEDIR/runtime-lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
else
  NODEDIR=$TOOLKIT/node-glibc
fi
# npm finds node through PATH: make it the same build.
PATH=$NODEDIR/bin:$PATH
export PATH
exec "$NODEDIR/bin/npm" "$@"
`;var Ce=`#!/bin/sh
# Memoh toolkit wrapper: runs npx from the toolkit Node.js build for this image's C library.
# A musl image (a /lib/ld-musl-*.so.1 exists) gets node-musl, with its runtime-lib first on the library path;
# any other image gets node-glibc. The toolkit is found from this file's own place (bin/..), so a toolkit
# mounted anywhere works, /opt/memoh/toolkit included.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH='' cd -- "\${self%/*}/.." && pwd) || exit 127
# Memoh's own test: with several matching loaders \`[\` errors out, and that counts as glibc.
if [ -f /lib/ld-musl-*.so.1 ] 2>/dev/null; then
  NODEDIR=$TOOLKIT/node-musl
  LD_LIBRARY_PATH=$NODEDIR/runtime-lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
else
  NODEDIR=$TOOLKIT/node-glibc
fi
# npm finds node through PATH: make it the same build.
PATH=$NODEDIR/bin:$PATH
export PATH
exec "$NODEDIR/bin/npx" "$@"
`;var _e=`#!/bin/sh
# Memoh toolkit wrapper: the toolkit's uv is one static (musl) binary that runs on every image.
# The toolkit is found from this file's own place (bin/..), so a toolkit mounted anywhere works.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH='' cd -- "\${self%/*}/.." && pwd) || exit 127
exec "$TOOLKIT/uv" "$@"
`;var Fe=`#!/bin/sh
# Memoh toolkit wrapper: uvx is \`uv tool run\`; the toolkit's uv is one static (musl) binary that runs on every image.
# The toolkit is found from this file's own place (bin/..), so a toolkit mounted anywhere works.
self=$0
case $self in */*) ;; *) self=./$self ;; esac
n=0
while [ -L "$self" ] && [ "$n" -lt 16 ]; do
  link=$(readlink "$self") || break
  case $link in /*) self=$link ;; *) self=\${self%/*}/$link ;; esac
  n=$((n + 1))
done
TOOLKIT=$(CDPATH='' cd -- "\${self%/*}/.." && pwd) || exit 127
exec "$TOOLKIT/uv" tool run "$@"
`;var Be={node:Me,npm:je,npx:Ce,uv:_e,uvx:Fe},He=kt("sha256").update(JSON.stringify(Be)).digest("hex");async function Ke(e){let t=X(e,"bin");await vt(t,{recursive:!0});for(let[r,i]of Object.entries(Be))await Tt(X(t,r),i),await yt(X(t,r),493)}var St=/^[^/]+\/lib\/node_modules\/npm(\/|$)/;async function Je(e,t,r,i){let o=te(i.concurrency??4),c=performance.now(),a=[],l=async(s,f,d,k,E,I)=>{let L=await o(()=>Le(r,{src:f,expected:d,dest:k,strip:E,filter:I},i.archives));return r.reporter.debug(`${s}: ${f.file} ${L.fromCache?"from the archive cache":"downloaded"}, verified and extracted at +${Math.round(performance.now()-c)} ms`),L.fromCache&&a.push(s),Ot(s,f,L,d)},n=(s,f,d)=>new g(`${s.file} is not listed in ${f.url}`,`check ${d}, or set ${s.option} to a mirror that has it`),m=async s=>{let f=v.nodeTarball(e,s),d;if(e.verify){let k=v.nodeShasums(e,s);if(d=oe((await o(()=>r.index(k,4<<20))).toString("utf8"),f.file),!d)throw n(f,k,"--node-version")}return l(s?"node-musl":"node-glibc",f,d,$(t,s?"node-musl":"node-glibc"),1,k=>!St.test(k))},p=async()=>{let s=i.indexes?.musl??await o(()=>$e(r,v.nodeIndex(e.mirrors.nodeMusl,!0)));if(ge(s,e.node,A(e.arch)))return m(!0);if(e.arch==="arm64")return"fallback";throw new g(`${e.mirrors.nodeMusl}/index.json lists no ${A(e.arch)} build of Node.js v${e.node}`,`pick a --node-version the musl mirror has, or set ${we.nodeMusl} to a mirror that has it`)},h=async()=>{let s=v.npmTarball(e),f;if(e.verify){let d=v.npmPackument(e),k=await o(()=>r.index(d,256<<20)),E;try{E=JSON.parse(k.toString("utf8"))}catch(L){throw new g(`${d.file}: not JSON (${d.url}): ${R(L)}`,`check ${d.option}`)}let I=E.versions?.[e.npm]?.dist;if(!I)throw new g(`npm ${e.npm} is not published in ${d.url}`,`check --npm-version, or set ${d.option} to a registry that has it`);if(f=se(I.integrity??""),!f)throw new g(`npm ${e.npm} has no usable dist.integrity in ${d.url}`,`set ${d.option} to another registry, or turn verification off (--no-verify)`)}return l("npm",s,f,$(t,".npm"),1)},u=async()=>{let s=v.uvTarball(e),f;if(e.verify){let d=v.uvSha256(e);if(f=ne((await o(()=>r.index(d,65536))).toString("utf8")),!f)throw new g(`${d.file} holds no sha256 (${d.url})`,`check ${d.option}`)}return l("uv",s,f,$(t,".uv"),1,d=>/^[^/]+\/uv$/.test(d))},P=async()=>{let s=v.apkIndex(e),f=Dt(await o(()=>r.index(s,64<<20)),s);return Promise.all(ce.map(async d=>{let k=f.get(d);if(!k)throw new g(`${d} is not in ${s.url}`,`check --alpine-version, or set ${s.option}`);let E=v.apk(e,de(k)),I=await o(()=>r.buffer(E,256<<20));return{record:await fe(I,k,E,$(t,".runtime-lib"),e.verify),version:k.version}}))},T=$(t,"node-glibc"),b=$(t,"node-musl"),S=s=>$(s,"lib","node_modules","npm"),y=h().then(async s=>{let f=await It($(t,".npm"));if(f!==e.npm)throw new g(`${s.file} holds npm ${f??"(no package.json)"}, not ${e.npm} (${s.url})`,`check ${v.npmTarball(e).option}`);return s}),x=p().then(async s=>(s==="fallback"||(await G($(b,"bin","node"),s),await y,V($(t,".npm"),S(b))),s)),B=m(!1).then(async s=>{await G($(T,"bin","node"),s);let[f]=await Promise.all([x,y]);return await Et(Pt(S(T)),{recursive:!0}),await q($(t,".npm"),S(T)),f==="fallback"&&V(T,b),s}),N=u().then(async s=>(await G($(t,".uv","uv"),s),await q($(t,".uv","uv"),$(t,"uv")),await At($(t,".uv"),{recursive:!0,force:!0}),s)),O=[B,x,y,N,P()];for(let s of O)s.catch(()=>i.abort());let D=await Promise.allSettled(O),Q=D.find(s=>s.status==="rejected"&&!Nt(s.reason))??D.find(s=>s.status==="rejected");if(Q)throw Q.reason;let[Z,Y,Ve,We,ee]=await Promise.all(O),Xe=performance.now()-c,qe=Y==="fallback"?"glibc":null,Ge=[Z,Y==="fallback"?{...Z,name:"node-musl"}:Y,Ve,We,...ee.map(s=>s.record)];await q($(t,".runtime-lib"),$(b,"runtime-lib")),await Ke(t);let Qe=Object.fromEntries(ee.map(s=>[s.record.name,s.version]));return{artefacts:Ge,fallback:qe,alpinePackages:Qe,fromArchiveCache:a,downloadMs:Xe}}function Ot(e,t,r,i){return{name:e,file:t.file,url:t.url,bytes:r.bytes,sha256:r.sha256,verifiedBy:i?.source??"unverified",...i&&i.algo!=="sha256"?{expected:`${i.algo}-${Buffer.from(i.hex,"hex").toString("base64")}`}:{}}}function Dt(e,t){try{return le(e)}catch(r){throw new g(`${t.file}: not an Alpine package index (${t.url}): ${R(r)}`,`check ${t.option} and --alpine-version`)}}async function G(e,t){try{await xt(e)}catch{throw new g(`${t.file} has no ${e.split("/").slice(-2).join("/")} (${t.url})`,"the archive does not have the expected layout: check the mirror")}}async function It(e){try{return JSON.parse(await Rt($(e,"package.json"),"utf8")).version}catch{return}}function Nt(e){return e?.name==="AbortError"}var Yt=1;async function Vr(e,t){let r=performance.now(),i=Jt(e.out);await Ut(i);let o=new AbortController,c=()=>o.abort(t.signal.reason);t.signal.aborted&&c(),t.signal.addEventListener("abort",c,{once:!0});let a=new me(t.reporter,o.signal,{...ue,...e.retry}),l=ze(i),n,m;try{let{plan:p,indexes:h}=await be(e,a),u=performance.now()-r,P=Vt(p),T=e.cacheDir?new K(_(e.cacheDir,"toolkits")):void 0,b=T?await T.lookup(P):void 0,S=b!==void 0&&Pe(b,i),y,x;if(S||(await Ct(l,{recursive:!0}),n=await _t(_(l,`.${Ue(i)}.tmp-`)),m=t.ledger.add({kind:"path",path:n,what:"temp-dir"}),await jt(n,493)),b)t.reporter.info(`toolkit ${p.arch}: from cache (${b.dir})${S?`; ${i} is up to date`:""}`),y=JSON.parse(await Ft(b.manifest,"utf8")),n&&Se(b,n);else{if(!n)throw new Error("internal: no temp dir for a cold build");t.reporter.info(`toolkit ${p.arch}: Node.js v${p.node}, npm ${p.npm}, uv ${p.uv}, Alpine v${p.alpine} runtime libraries`),x=await Je(p,n,a,{archives:e.cacheDir?new H(_(e.cacheDir,"archives")):void 0,indexes:h,abort:()=>o.abort()}),y=Wt(p,x,a),await Kt(_(n,"toolkit.json"),`${JSON.stringify(y,null,2)}
`),T&&await T.store(P,n).catch(D=>t.reporter.warn(`cache: the toolkit was not stored (${D.message})`))}let B=Xt(y);for(let D of B)t.reporter.warn(D);n&&(await zt(n,i),n=void 0);let N=performance.now()-r,O=x?.downloadMs??0;return{dir:i,arch:p.arch,manifest:y,fromCache:!!b,fallback:y.fallback,durations:{totalMs:F(N),resolveMs:F(u),downloadMs:F(O),assembleMs:F(N-u-O)},downloadedBytes:a.stats.bytes,warnings:B,checks:qt(y,!!b,N,a.stats.bytes,x?.fromArchiveCache??[])}}finally{t.signal.removeEventListener("abort",c),a.close(),n&&await Ye(n,{recursive:!0,force:!0}),m?.()}}var F=e=>Math.round(e);async function Ut(e){let t;try{if(!(await Ht(e)).isDirectory())throw new U("--out",`${e} exists and is not a directory`,"give a new directory, or one holding a toolkit");t=await Bt(e)}catch(r){if(r.code==="ENOENT")return;throw r}if(!(t.length===0||t.includes("toolkit.json")||t.includes("node-glibc")))throw new U("--out",`${e} is not empty and holds no toolkit (no toolkit.json)`,"give a new or empty directory, or one a toolkit was built into")}async function zt(e,t){try{await J(e,t);return}catch(i){let o=i.code;if(o!=="ENOTEMPTY"&&o!=="EEXIST"&&o!=="EISDIR")throw i}let r=_(ze(t),`.${Ue(t)}.old-${Mt(4).toString("hex")}`);await J(t,r);try{await J(e,t)}catch(i){throw await J(r,t),i}await Ye(r,{recursive:!0,force:!0})}function Vt(e){let t=Lt("sha256").update(JSON.stringify({format:Yt,...e,nodeRequested:void 0,wrappers:He})).digest("hex").slice(0,24);return`${e.arch}-node${e.node}-npm${e.npm}-uv${e.uv}-${t}`}function Wt(e,t,r){return{schema:1,builder:"memoh-workspace 0.1.0",arch:e.arch,node:{version:e.node,requested:e.nodeRequested},npm:{version:e.npm,registry:e.mirrors.npm},uv:{version:e.uv},alpine:{version:e.alpine,packages:t.alpinePackages},fallback:t.fallback,verified:t.artefacts.every(i=>i.verifiedBy!=="unverified"),mirrors:e.mirrors,artefacts:t.artefacts,indexes:[...r.indexes].sort((i,o)=>i.url<o.url?-1:1)}}function Xt(e){let t=[];return e.fallback==="glibc"&&t.push(`${e.mirrors.nodeMusl}/index.json has no ${A(e.arch)} build of Node.js v${e.node.version}: node-musl holds the glibc build (fallback). On musl images node runs only if the image carries a glibc loader (e.g. Alpine's gcompat).`),e.verified||t.push("checksum verification is off: the toolkit is UNVERIFIED (its artefacts were not checked against published digests)"),t}function qt(e,t,r,i,o){let c=l=>{let n=e.artefacts.find(m=>m.name===l);return n?n.verifiedBy==="unverified"?`${n.file}, UNVERIFIED`:`${n.file}, verified against ${n.verifiedBy}`:"missing"};return[{id:"toolkit.node-glibc",status:"pass",detail:`Node.js v${e.node.version} linux-${re(e.arch)} (${c("node-glibc")})`},e.fallback==="glibc"?{id:"toolkit.node-musl",status:"warn",detail:`no ${A(e.arch)} build of Node.js v${e.node.version} on the musl mirror: node-musl is the glibc build`,fix:"musl arm64 images need a glibc loader (Alpine: apk add gcompat), or pick a Node.js version with an arm64 musl build"}:{id:"toolkit.node-musl",status:"pass",detail:`Node.js v${e.node.version} ${A(e.arch)} (${c("node-musl")})`},{id:"toolkit.npm",status:"pass",detail:`npm ${e.npm.version} (${c("npm")})`},{id:"toolkit.uv",status:"pass",detail:`uv ${e.uv.version} (${c("uv")})`},{id:"toolkit.runtime-lib",status:"pass",detail:`Alpine v${e.alpine.version} ${Object.entries(e.alpine.packages).map(([l,n])=>`${l} ${n}`).join(", ")} (${c("libgcc").includes("UNVERIFIED")?"UNVERIFIED":"verified against APKINDEX"})`},e.verified?{id:"toolkit.verified",status:"pass",detail:`all ${e.artefacts.length} artefacts verified`}:{id:"toolkit.verified",status:"warn",detail:"checksum verification was turned off: the toolkit is unverified",fix:"build with verify = true (drop --no-verify)"},{id:"toolkit.build",status:"pass",detail:t?`from the cache in ${(r/1e3).toFixed(2)} s, nothing downloaded`:`built in ${(r/1e3).toFixed(1)} s, ${(i/1e6).toFixed(1)} MB downloaded${o.length?`, ${o.join(", ")} from the archive cache`:""}`,durationMs:F(r)}]}export{Vr as a};
