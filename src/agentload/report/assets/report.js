/* agentload report renderer: draws the charts in #chart-data with uPlot. */
(function(){
var charts=JSON.parse(document.getElementById('chart-data').textContent);
function pct(x){if(!(x>1))return '0%';var q=100*(1-1/x);return (q>=99.99?q.toFixed(3):q>=99?q.toFixed(2):q.toFixed(0))+'%';}
function fmt(v){if(v==null)return '';var a=Math.abs(v);
return a>=1e4?(v/1e3).toFixed(0)+'k':a>=100?v.toFixed(0):a>=1?v.toFixed(1):v.toPrecision(2);}
function logSplits(u,ax,min,max){var out=[],steps=[1,2,5];
 for(var e=Math.floor(Math.log10(min));e<=Math.ceil(Math.log10(max));e++){steps.forEach(function(m){
  var v=m*Math.pow(10,e);if(v>=min&&v<=max)out.push(v);});}return out;}
function specSplits(u,ax,min,max){return [2,10,100,1000,1e4,1e5].filter(function(v){
 return v>=min&&v<=max;});}
function build(c,el){
 var xscale={time:false},xaxis={stroke:'#475569',grid:{stroke:'#eef2f7'}};
 if(c.x==='time'){xaxis.label='seconds since start';}
 if(c.xLabel){xaxis.label=c.xLabel;}
 if(c.x==='spectrum'||c.x==='log'){xscale.distr=3;xscale.log=10;}
 if(c.x==='spectrum'){xaxis.label='percentile';xaxis.values=function(u,s){return s.map(pct);};xaxis.splits=specSplits;}
 if(c.x==='log'){xaxis.label='ms (log scale)';xaxis.values=function(u,s){return s.map(fmt);};xaxis.splits=logSplits;}
 var y={auto:true};if(c.yLog){y.distr=3;y.log=10;}
 var axes=[xaxis,{label:c.yLabel,stroke:'#475569',grid:{stroke:'#eef2f7'},size:60,
  values:function(u,s){return s.map(fmt);}}];
 var scales={x:xscale,y:y};
 var series=[{label:c.xLabel||(c.x==='spectrum'?'percentile':(c.x==='time'?'second':'ms')),
  value:c.x==='spectrum'?function(u,v){return v==null?'':pct(v);}:undefined}];
 c.series.forEach(function(s){
  var o={label:s.label,stroke:s.color,width:1.6,scale:s.axis||'y',spanGaps:false,
   value:function(u,v){return v==null?'-':fmt(v);}};
  if(s.dash)o.dash=[6,4];if(s.step&&uPlot.paths&&uPlot.paths.stepped)o.paths=uPlot.paths.stepped({align:0});
  if(s.fill)o.fill=s.fill;
  if(s.points){o.points={show:true,size:11,stroke:s.color,fill:s.color};o.width=0;}
  series.push(o);
  if(s.axis==='y2'&&!scales.y2){scales.y2={auto:true};
   axes.push({scale:'y2',side:1,label:s.label,stroke:s.color,grid:{show:false},size:50});}
 });
 var w=Math.max(320,el.clientWidth||600);
 return new uPlot({width:w,height:300,series:series,scales:scales,axes:axes,
  legend:{live:true},cursor:{drag:{x:true,y:false}}},c.data,el);
}
var drawn=0;
charts.forEach(function(c){
 var el=document.getElementById('plot-'+c.id);if(!el)return;
 if(!c.series.length||!c.data[0].length){el.innerHTML='<p class="note">No data for this plot.</p>';
  el.setAttribute('data-empty','1');drawn++;return;}
 build(c,el);drawn++;
});
document.body.setAttribute('data-plots-rendered',String(drawn));
})();
