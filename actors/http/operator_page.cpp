// GET /operator: the operator view, every account of the node on one page:
// in use against the limit, requests, queued, 408 and 429 per minute and the
// mean queue wait, refreshed every 2 s from GET /metrics/accounts. Like the
// dashboard it is plain HTML and JavaScript, and per-minute numbers are the
// difference of the node's counters between the latest sample and the one a
// minute before it, so the node keeps no per-minute state.
//
// The page itself is public; its data needs the node's metrics_key (as
// GET /metrics does). The browser passes it as `Authorization: Bearer` on
// every fetch(): typed into a form (or given as #key=... in the URL
// fragment, which browsers never send and the page removes at once), it is
// kept in sessionStorage, so it lives in this tab only, survives a reload,
// goes when the tab closes, and is forgotten when the node refuses it. No
// cookie: the node has no session to expire, and other sites cannot make
// the browser send the key.
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const std::string& operator_html() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>usher: all accounts</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f7f8fa}
h1{font-size:20px;margin:0 0 4px}.sub{color:#667;margin-bottom:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:8px 14px;min-width:110px}
.card .v{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}.card .k{color:#667;font-size:12px;text-transform:uppercase}
table{border-collapse:collapse;background:#fff;min-width:900px}
td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{color:#667;font-weight:500;font-size:12px;text-transform:uppercase}td:first-child,th:first-child{text-align:left}
.bar{display:inline-block;vertical-align:middle;height:8px;width:120px;background:#e6e9ef;border-radius:4px;overflow:hidden}
.bar div{height:100%;background:#3b82f6}.full .bar div{background:#e11d48}
.warn{color:#c2410c;font-weight:600}.bad{color:#e11d48;font-weight:600}
#status{color:#667;margin:8px 0}.tools{margin:8px 0}.tools *{margin-right:8px}
button.link{background:none;border:0;color:#3b82f6;cursor:pointer;padding:0;font:inherit}
</style></head><body>
<h1>usher &mdash; all accounts</h1>
<div class="sub">Every account on this node, refreshed every 2 s from <code>GET /metrics/accounts</code> (needs the node's <code>metrics_key</code>). Per minute: over the last 60 s of samples.</div>
<form id="f" style="display:none"><input id="key" type="password" placeholder="metrics key" size="40" autocomplete="off"> <button>Open</button></form>
<div class="cards">
 <div class="card"><div class="k">accounts</div><div class="v" id="accounts">&ndash;</div></div>
 <div class="card"><div class="k">at their limit</div><div class="v" id="full">&ndash;</div></div>
 <div class="card"><div class="k">in use</div><div class="v" id="in_use">&ndash;</div></div>
 <div class="card"><div class="k">queued</div><div class="v" id="queued">&ndash;</div></div>
 <div class="card"><div class="k">408 per minute</div><div class="v" id="rate408">&ndash;</div></div>
 <div class="card"><div class="k">429 per minute</div><div class="v" id="rate429">&ndash;</div></div>
</div>
<div class="tools"><input id="filter" placeholder="filter accounts" size="24"><label>sort by <select id="sort">
 <option value="name">account</option><option value="use">use of limit</option><option value="queued">queued</option>
 <option value="r429">429 per minute</option><option value="r408">408 per minute</option></select></label>
 <button class="link" id="forget" style="display:none">forget the key</button></div>
<table><thead><tr><th>account</th><th>in use</th><th>limit</th><th>use</th><th>requests</th><th>queued</th>
<th>408 / min</th><th>429 / min</th><th>mean wait</th><th>408 in all</th><th>429 in all</th></tr></thead><tbody id="rows"></tbody></table>
<div id="status">connecting&hellip;</div>
<script>
const $=id=>document.getElementById(id);
const MIN=60e3,SHOWN=500,STORE='usher.metrics_key',sleep=ms=>new Promise(r=>setTimeout(r,ms));
const hist=new Map();  // account -> [{at,c408,c429,waits,wait_ms}], the last two minutes
let key='',last=null;
// Counter `k` over the last minute of `h` (less while the page is younger).
function lastMinute(h,k){const l=h[h.length-1];if(h.length<2)return null;
  let b=h[0];for(const s of h){if(s.at<=l.at-MIN)b=s;else break;}return {n:l[k]-b[k],base:b};}
function take(d){
  const seen=new Set();
  for(const a of d.accounts){seen.add(a.account);
    const s={at:d.at,c408:a.outcomes['408'],c429:a.outcomes['429'],waits:a.queue_waits,wait_ms:a.queue_wait_ms};
    let h=hist.get(a.account);if(!h)hist.set(a.account,h=[]);
    const p=h[h.length-1];if(p&&(s.c408<p.c408||s.c429<p.c429))h.length=0;  // the node restarted
    h.push(s);while(h.length>2&&h[1].at<=d.at-2*MIN)h.shift();
    const r8=lastMinute(h,'c408'),r9=lastMinute(h,'c429'),w=lastMinute(h,'waits');
    a.r408=r8?r8.n:null;a.r429=r9?r9.n:null;a.wait=w&&w.n>0?(s.wait_ms-w.base.wait_ms)/w.n:null;
    a.use=a.limit?a.in_use/a.limit:0;}
  for(const k of [...hist.keys()])if(!seen.has(k))hist.delete(k);  // removed from the config
  last=d;render();
}
function render(){
  if(!last)return;const all=last.accounts,sum=k=>all.reduce((n,a)=>n+(a[k]||0),0);
  $('accounts').textContent=all.length;$('full').textContent=all.filter(a=>a.limit!==null&&a.in_use>=a.limit).length;
  $('in_use').textContent=sum('in_use');$('queued').textContent=sum('queued');
  const measured=all.some(a=>a.r408!==null);
  $('rate408').textContent=measured?sum('r408'):'\u2013';$('rate429').textContent=measured?sum('r429'):'\u2013';
  const f=$('filter').value.trim().toLowerCase(),by=$('sort').value;
  let rows=all.filter(a=>!f||a.account.toLowerCase().includes(f));
  if(by!=='name')rows=rows.slice().sort((a,b)=>(b[by]||0)-(a[by]||0)||(a.account<b.account?-1:1));
  const tb=$('rows');tb.innerHTML='';
  for(const a of rows.slice(0,SHOWN)){const tr=document.createElement('tr');
    if(a.limit!==null&&a.in_use>=a.limit)tr.className='full';
    const cell=(v,cls)=>{const td=document.createElement('td');td.textContent=v;if(cls)td.className=cls;tr.appendChild(td);return td;};
    cell(a.account);cell(a.in_use);cell(a.limit===null?'no limit':a.limit);
    const u=cell(a.limit?Math.round(100*a.use)+'% ':'');const bar=document.createElement('span');bar.className='bar';
    const fill=document.createElement('div');fill.style.width=Math.min(100,100*a.use)+'%';bar.appendChild(fill);u.appendChild(bar);
    cell(a.requests);cell(a.queued);
    cell(a.r408===null?'\u2013':a.r408,a.r408>0?'warn':'');cell(a.r429===null?'\u2013':a.r429,a.r429>0?'bad':'');
    cell(a.wait===null?'\u2013':(a.wait/1e3).toFixed(a.wait<1e4?2:0)+' s');cell(a.outcomes['408']);cell(a.outcomes['429']);
    tb.appendChild(tr);}
  $('status').textContent=(rows.length>SHOWN?rows.length-SHOWN+' more not shown (filter to see them) \u2022 ':'')+
    'live \u2022 last sample '+new Date().toLocaleTimeString();
}
function ask(why){sessionStorage.removeItem(STORE);$('f').style.display='';$('forget').style.display='none';$('status').textContent=why;}
async function loop(){
  for(;;){
    try{
      const r=await fetch('/metrics/accounts',{headers:key?{'Authorization':'Bearer '+key}:{},cache:'no-store'});
      if(r.status===401)return ask(key?'the node refused that key: enter its metrics key':'enter the metrics key');
      if(!r.ok)throw new Error('HTTP '+r.status);
      take(await r.json());
    }catch(e){$('status').textContent='node unreachable ('+e.message+'), retrying\u2026';}
    await sleep(2000);
  }
}
function start(k){key=k;if(k){sessionStorage.setItem(STORE,k);$('forget').style.display='';}$('f').style.display='none';loop();}
$('f').onsubmit=e=>{e.preventDefault();start($('key').value);};
$('forget').onclick=()=>{sessionStorage.removeItem(STORE);location.replace(location.pathname);};
$('filter').oninput=render;$('sort').onchange=render;
const m=location.hash.match(/key=([^&]+)/);
if(m){history.replaceState(null,'',location.pathname);start(decodeURIComponent(m[1]));}
else start(sessionStorage.getItem(STORE)||'');  // a node without metrics_key needs none
</script></body></html>
)HTML";
  return page;
}

}  // namespace usher::actors::http
