// GET /: the dashboard page, plain HTML and JavaScript served by the node. It
// reads the caller's key from the URL fragment (#key=..., never sent to the
// server) or a form, and follows GET /account/concurrency/stream with fetch()
// (EventSource cannot send an Authorization header), drawing used_cost
// against the limit over time and listing the requests in flight.
#include "actors/http/sessions.hpp"

namespace usher::actors::http {

const std::string& dashboard_html() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>usher: live concurrency</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f7f8fa}
h1{font-size:20px;margin:0 0 4px}.sub{color:#667;margin-bottom:16px}
.cards{display:flex;gap:12px;margin:12px 0}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 16px;min-width:120px}
.card .v{font-size:28px;font-weight:600}.card .k{color:#667;font-size:12px;text-transform:uppercase}
canvas{background:#fff;border:1px solid #dde;border-radius:8px}
table{border-collapse:collapse;background:#fff;margin-top:12px;min-width:640px}
td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:left;font-variant-numeric:tabular-nums}
#status{color:#667}.bar{height:10px;background:#e6e9ef;border-radius:5px;overflow:hidden;width:260px}
.bar div{height:100%;background:#3b82f6}
</style></head><body>
<h1>usher &mdash; live concurrency</h1>
<div class="sub">Your account's in-flight requests, from <code>GET /account/concurrency/stream</code> (a frame every 2 s).</div>
<form id="f" style="display:none"><input id="key" type="password" placeholder="API key" size="40"> <button>Watch</button></form>
<div class="cards">
 <div class="card"><div class="k">used cost</div><div class="v" id="used">&ndash;</div></div>
 <div class="card"><div class="k">limit</div><div class="v" id="limit">&ndash;</div></div>
 <div class="card"><div class="k">requests</div><div class="v" id="count">&ndash;</div></div>
 <div class="card"><div class="k">peak used</div><div class="v" id="peak">&ndash;</div></div>
 <div class="card"><div class="k">frames</div><div class="v" id="frames">0</div></div>
</div>
<div class="bar"><div id="fill" style="width:0"></div></div>
<p><canvas id="chart" width="720" height="200"></canvas></p>
<div id="status">connecting&hellip;</div>
<table><thead><tr><th>id</th><th>model</th><th>cost</th><th>started</th><th>duration</th></tr></thead><tbody id="rows"></tbody></table>
<script>
const $=id=>document.getElementById(id);
const history=[];let frames=0,peak=0;
function draw(limit){
  const c=$('chart'),g=c.getContext('2d'),W=c.width,H=c.height,p=24;
  g.clearRect(0,0,W,H);
  const top=Math.max(1,limit||0,...history.map(h=>h.used));
  g.strokeStyle='#dde';g.beginPath();g.moveTo(p,H-p);g.lineTo(W-4,H-p);g.stroke();
  if(limit!==null){const y=H-p-(H-2*p)*limit/top;g.strokeStyle='#e11d48';g.setLineDash([6,4]);
    g.beginPath();g.moveTo(p,y);g.lineTo(W-4,y);g.stroke();g.setLineDash([]);
    g.fillStyle='#e11d48';g.textAlign='right';g.fillText('limit '+limit,W-8,y-4);g.textAlign='left';}
  g.strokeStyle='#3b82f6';g.lineWidth=2;g.beginPath();
  history.forEach((h,i)=>{const x=p+(W-p-8)*i/Math.max(1,history.length-1),y=H-p-(H-2*p)*h.used/top;
    i?g.lineTo(x,y):g.moveTo(x,y);});
  g.stroke();g.fillStyle='#3b82f6';
  history.forEach((h,i)=>{const x=p+(W-p-8)*i/Math.max(1,history.length-1),y=H-p-(H-2*p)*h.used/top;
    g.beginPath();g.arc(x,y,3,0,7);g.fill();});
  g.lineWidth=1;g.fillStyle='#667';g.fillText('used cost, last '+history.length+' frames',p,14);
}
function show(s){
  frames++;peak=Math.max(peak,s.used_cost);
  history.push({used:s.used_cost});if(history.length>90)history.shift();
  $('used').textContent=s.used_cost;$('limit').textContent=s.limit===null?'none':s.limit;
  $('count').textContent=s.request_count;$('peak').textContent=peak;$('frames').textContent=frames;
  $('fill').style.width=(s.limit?Math.min(100,100*s.used_cost/s.limit):0)+'%';
  $('rows').innerHTML='';
  for(const r of s.requests.slice(0,50)){const tr=document.createElement('tr');
    for(const v of [r.id.slice(0,8),r.model||'\u2013',r.cost,new Date(r.started_at).toLocaleTimeString(),(r.duration_ms/1000).toFixed(1)+' s']){
      const td=document.createElement('td');td.textContent=v;tr.appendChild(td);}
    $('rows').appendChild(tr);}
  $('status').textContent='live \u2022 last frame '+new Date().toLocaleTimeString();
  draw(s.limit);
}
async function watch(key){
  for(;;){
    try{
      const res=await fetch('/account/concurrency/stream',{headers:{'Authorization':'Bearer '+key,'Accept':'text/event-stream'}});
      if(res.status===401){$('status').textContent='unknown API key';$('f').style.display='';return;}
      const rd=res.body.getReader(),dec=new TextDecoder();let buf='';
      for(;;){const {value,done}=await rd.read();if(done)break;buf+=dec.decode(value,{stream:true});
        let i;while((i=buf.indexOf('\n\n'))>=0){const frame=buf.slice(0,i);buf=buf.slice(i+2);
          for(const line of frame.split('\n'))if(line.startsWith('data: '))show(JSON.parse(line.slice(6)));}}
    }catch(e){$('status').textContent='disconnected, retrying\u2026';}
    await new Promise(r=>setTimeout(r,2000));
  }
}
const m=location.hash.match(/key=([^&]+)/);
if(m)watch(decodeURIComponent(m[1]));
else{$('f').style.display='';$('status').textContent='enter an API key';
  $('f').onsubmit=e=>{e.preventDefault();$('f').style.display='none';watch($('key').value);};}
</script></body></html>
)HTML";
  return page;
}

}  // namespace usher::actors::http
