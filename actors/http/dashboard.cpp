// GET /: the dashboard page, plain HTML and JavaScript served by the node (no
// library, nothing fetched from elsewhere). It shows what the streams seed
// promises ("live stream usage and queue metrics") for the caller's account:
//
// - in use against the limit, now and as a chart of the last five minutes
//   with a scale and a time axis, drawn on a canvas from the frames of GET
//   /account/concurrency/stream, followed with fetch() (EventSource cannot
//   send an Authorization header);
// - queued, and 408 and 429 per minute with the mean queue wait, from GET
//   /account/metrics polled every 2 s: the node reports counters since it
//   started, and the page takes the difference between the latest sample
//   and the one a minute before it (less while the page is younger), so
//   the node keeps no per-minute state.
//
// The key comes from the URL fragment (#key=..., which browsers never send)
// or a form, and is kept in sessionStorage (this tab only, gone when it
// closes) so a reload keeps watching; a refused key is forgotten.
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const std::string& dashboard_html() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>usher: live concurrency</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f7f8fa}
h1{font-size:20px;margin:0 0 4px}.sub{color:#667;margin-bottom:12px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:8px 14px;min-width:110px}
.card .v{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}.card .k{color:#667;font-size:12px;text-transform:uppercase}
.card .n{color:#889;font-size:12px}.warn .v{color:#c2410c}.bad .v{color:#e11d48}
canvas{background:#fff;border:1px solid #dde;border-radius:8px;width:100%;max-width:900px;height:240px;display:block}
table{border-collapse:collapse;background:#fff;margin-top:12px;min-width:640px}
td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:left;font-variant-numeric:tabular-nums}
#status{color:#667;margin-top:6px}.bar{height:10px;background:#e6e9ef;border-radius:5px;overflow:hidden;width:260px;margin-top:4px}
.bar div{height:100%;background:#3b82f6}a{color:#3b82f6}button.link{background:none;border:0;color:#3b82f6;cursor:pointer;padding:0;font:inherit}
</style></head><body>
<h1>usher &mdash; live concurrency</h1>
<div class="sub">Your account's streams in use, queue and refusals, live from this node. Operators: <a href="/operator">all accounts</a>.</div>
<form id="f" style="display:none"><input id="key" type="password" placeholder="API key" size="40" autocomplete="off"> <button>Watch</button></form>
<div class="cards">
 <div class="card"><div class="k">in use</div><div class="v"><span id="in_use">&ndash;</span> / <span id="limit">&ndash;</span></div><div class="bar"><div id="fill" style="width:0"></div></div></div>
 <div class="card"><div class="k">requests</div><div class="v" id="count">&ndash;</div><div class="n">holding a lease</div></div>
 <div class="card" id="queued_card"><div class="k">queued</div><div class="v" id="queued">&ndash;</div><div class="n">mean wait <span id="wait">&ndash;</span></div></div>
 <div class="card" id="c408"><div class="k">408 per minute</div><div class="v" id="rate408">&ndash;</div><div class="n"><span class="win">&ndash;</span>; <span id="total408">&ndash;</span> in all</div></div>
 <div class="card" id="c429"><div class="k">429 per minute</div><div class="v" id="rate429">&ndash;</div><div class="n"><span class="win">&ndash;</span>; <span id="total429">&ndash;</span> in all</div></div>
 <div class="card"><div class="k">peak in use</div><div class="v" id="peak">&ndash;</div><div class="n">last 5 minutes</div></div>
</div>
<canvas id="chart"></canvas>
<div id="status">connecting&hellip;</div>
<table><thead><tr><th>id</th><th>model</th><th>cost</th><th>started</th><th>duration</th></tr></thead><tbody id="rows"></tbody></table>
<p><button class="link" id="forget" style="display:none">forget the key</button></p>
<script>
const $=id=>document.getElementById(id);
const SPAN=5*60e3,MIN=60e3,STORE='usher.key',sleep=ms=>new Promise(r=>setTimeout(r,ms));
const frames=[];  // {t,used,limit}: one per SSE frame, by this browser's clock
const snaps=[];   // {at,t,queued,c408,c429,waits,wait_ms}: GET /account/metrics samples
let key='',stopped=false;
function trim(a,keep){const old=Date.now()-keep;while(a.length&&a[0].t<old)a.shift();}
// A tick step for at most five integer ticks up to `max`.
function step(max){const raw=Math.max(1,max)/5,p=10**Math.floor(Math.log10(raw));
  for(const m of [1,2,5,10])if(m*p>=raw)return Math.max(1,m*p);}
// Counter `k` over the last minute: the latest sample less the newest one a
// minute older (or the oldest, while the page is younger than a minute).
function lastMinute(k){const last=snaps[snaps.length-1];if(!last||snaps.length<2)return null;
  let base=snaps[0];for(const s of snaps){if(s.at<=last.at-MIN)base=s;else break;}
  return {n:last[k]-base[k],span:last.at-base.at,base};}
function clock(t){return new Date(t).toLocaleTimeString([],{hour:'2-digit',minute:'2-digit'});}
function draw(){
  const c=$('chart'),dpr=window.devicePixelRatio||1,W=c.clientWidth,H=c.clientHeight;
  if(c.width!==Math.round(W*dpr)||c.height!==Math.round(H*dpr)){c.width=Math.round(W*dpr);c.height=Math.round(H*dpr);}
  const g=c.getContext('2d');g.setTransform(dpr,0,0,dpr,0,0);g.clearRect(0,0,W,H);
  const L=44,R=16,T=26,B=26,now=Date.now(),t0=now-SPAN,x=t=>L+(W-L-R)*(t-t0)/SPAN;
  const fs=frames.filter(f=>f.t>=t0-5e3),ss=snaps.filter(s=>s.t>=t0-5e3);
  const limit=frames.length?frames[frames.length-1].limit:null;
  const hi=Math.max(1,limit||0,...fs.map(f=>f.used),...ss.map(s=>s.queued))*1.1;
  const st=step(hi),top=Math.ceil(hi/st)*st,y=v=>H-B-(H-T-B)*v/top;
  g.font='11px system-ui,sans-serif';g.lineWidth=1;
  g.textAlign='right';g.textBaseline='middle';
  for(let v=0;v<=top;v+=st){g.strokeStyle=v?'#eef0f4':'#bbc';g.beginPath();g.moveTo(L,y(v));g.lineTo(W-R,y(v));g.stroke();
    g.fillStyle='#667';g.fillText(v,L-6,y(v));}
  g.textAlign='center';g.textBaseline='top';
  for(let t=Math.ceil(t0/MIN)*MIN;t<=now;t+=MIN){g.strokeStyle='#eef0f4';g.beginPath();g.moveTo(x(t),T);g.lineTo(x(t),H-B);g.stroke();
    g.fillStyle='#667';g.fillText(clock(t),x(t),H-B+6);}
  if(limit!==null){g.strokeStyle='#e11d48';g.setLineDash([6,4]);g.beginPath();g.moveTo(L,y(limit));g.lineTo(W-R,y(limit));g.stroke();
    g.setLineDash([]);g.fillStyle='#e11d48';g.textAlign='right';g.textBaseline='bottom';g.fillText('limit '+limit,W-R-2,y(limit)-2);}
  // A series holds its value until the next sample; a gap over 6 s (the
  // stream was down) breaks the line.
  function steps(pts,val,color,fill){
    const runs=[];let prev=null;
    for(const p of pts){if(!prev||p.t-prev.t>=6e3){if(prev)runs[runs.length-1].push([x(prev.t)+2,val(prev)]);runs.push([]);}
      runs[runs.length-1].push([x(p.t),val(p)]);prev=p;}
    if(prev)runs[runs.length-1].push([now-prev.t<6e3?W-R:x(prev.t)+2,val(prev)]);
    const path=r=>{g.beginPath();g.moveTo(Math.max(L,r[0][0]),y(r[0][1]));
      for(let i=1;i<r.length;i++){const px=Math.max(L,r[i][0]);g.lineTo(px,y(r[i-1][1]));g.lineTo(px,y(r[i][1]));}};
    for(const r of runs){
      if(fill){path(r);g.lineTo(Math.max(L,r[r.length-1][0]),y(0));g.lineTo(Math.max(L,r[0][0]),y(0));g.closePath();g.fillStyle=fill;g.fill();}
      path(r);g.strokeStyle=color;g.lineWidth=2;g.stroke();g.lineWidth=1;}
  }
  steps(fs,f=>f.used,'#3b82f6','rgba(59,130,246,.12)');
  steps(ss,s=>s.queued,'#d97706',null);
  // 408s and 429s between two samples: a mark on the time axis, taller for more.
  for(let i=1;i<ss.length;i++)for(const [k,color,dx] of [['c408','#7c3aed',-2],['c429','#e11d48',2]]){
    const d=ss[i][k]-ss[i-1][k];if(d<=0)continue;const h=Math.min(T+20,6+4*Math.sqrt(d));
    g.fillStyle=color;g.fillRect(x(ss[i].t)+dx-1.5,H-B-h,3,h);}
  g.textAlign='left';g.textBaseline='top';let lx=L;
  for(const [label,color] of [['in use','#3b82f6'],['queued','#d97706'],['408','#7c3aed'],['429','#e11d48'],['limit','#e11d48']]){
    g.fillStyle=color;g.fillRect(lx,8,10,3);g.fillStyle='#445';g.fillText(label,lx+14,3);lx+=g.measureText(label).width+30;}
  g.fillStyle='#889';g.textAlign='right';g.fillText('last 5 minutes',W-R,3);
}
function showFrame(s){
  frames.push({t:Date.now(),used:s.used_cost,limit:s.limit});trim(frames,SPAN+10e3);
  $('in_use').textContent=s.used_cost;$('limit').textContent=s.limit===null?'no limit':s.limit;
  $('count').textContent=s.request_count;$('peak').textContent=Math.max(...frames.map(f=>f.used));
  $('fill').style.width=(s.limit?Math.min(100,100*s.used_cost/s.limit):0)+'%';
  $('rows').innerHTML='';
  for(const r of s.requests.slice(0,50)){const tr=document.createElement('tr');
    for(const v of [r.id.slice(0,8),r.model||'\u2013',r.cost,new Date(r.started_at).toLocaleTimeString(),(r.duration_ms/1000).toFixed(1)+' s']){
      const td=document.createElement('td');td.textContent=v;tr.appendChild(td);}
    $('rows').appendChild(tr);}
  $('status').textContent='live \u2022 last frame '+new Date().toLocaleTimeString();
  draw();
}
function showCounters(m){
  const s={at:m.at,t:Date.now(),queued:m.queued,c408:m.outcomes['408'],c429:m.outcomes['429'],waits:m.queue_waits,wait_ms:m.queue_wait_ms};
  const last=snaps[snaps.length-1];
  if(last&&(s.c408<last.c408||s.c429<last.c429))snaps.length=0;  // the node restarted: counters begin again
  snaps.push(s);trim(snaps,SPAN+2*MIN);
  $('queued').textContent=s.queued;$('total408').textContent=s.c408;$('total429').textContent=s.c429;
  for(const [k,id] of [['c408','408'],['c429','429']]){const w=lastMinute(k),card=$('c'+id);
    $('rate'+id).textContent=w?w.n:'\u2013';card.className='card'+(w&&w.n>0?(id==='429'?' bad':' warn'):'');
    card.querySelector('.win').textContent=!w?'measuring':w.span>=MIN-1e3?'last minute':'last '+Math.round(w.span/1e3)+' s';}
  const w=lastMinute('waits'),ms=w&&w.n>0?(s.wait_ms-w.base.wait_ms)/w.n:null;
  $('wait').textContent=ms===null?'\u2013':(ms/1e3).toFixed(ms<1e4?2:0)+' s';
  draw();
}
function refused(){stopped=true;sessionStorage.removeItem(STORE);$('status').textContent='unknown API key';$('f').style.display='';}
async function poll(){
  while(!stopped){
    try{const r=await fetch('/account/metrics',{headers:{'Authorization':'Bearer '+key},cache:'no-store'});
      if(r.status===401)return refused();if(r.ok)showCounters(await r.json());}catch(e){}
    await sleep(2000);
  }
}
async function watch(){
  while(!stopped){
    try{
      const res=await fetch('/account/concurrency/stream',{headers:{'Authorization':'Bearer '+key,'Accept':'text/event-stream'}});
      if(res.status===401)return refused();
      if(!res.ok)throw new Error('HTTP '+res.status);
      const rd=res.body.getReader(),dec=new TextDecoder();let buf='';
      for(;;){const {value,done}=await rd.read();if(done)break;buf+=dec.decode(value,{stream:true});
        let i;while((i=buf.indexOf('\n\n'))>=0){const frame=buf.slice(0,i);buf=buf.slice(i+2);
          for(const line of frame.split('\n'))if(line.startsWith('data: '))showFrame(JSON.parse(line.slice(6)));}}
    }catch(e){}
    if(!stopped)$('status').textContent='disconnected, retrying\u2026';
    await sleep(2000);
  }
}
function start(k){key=k;stopped=false;sessionStorage.setItem(STORE,k);$('f').style.display='none';$('forget').style.display='';
  $('status').textContent='connecting\u2026';watch();poll();}
$('f').onsubmit=e=>{e.preventDefault();start($('key').value);};
$('forget').onclick=()=>{sessionStorage.removeItem(STORE);location.replace(location.pathname);};
window.onresize=draw;setInterval(draw,5000);  // the time axis moves even between samples
const m=location.hash.match(/key=([^&]+)/);
if(m){history.replaceState(null,'',location.pathname);start(decodeURIComponent(m[1]));}
else if(sessionStorage.getItem(STORE))start(sessionStorage.getItem(STORE));
else{$('f').style.display='';$('status').textContent='enter an API key';draw();}
</script></body></html>
)HTML";
  return page;
}

}  // namespace usher::actors::http
