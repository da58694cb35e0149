(function(){var pending=[];function rec(m){var el=document.getElementById("js-errors");
if(!el){pending.push(m);return;}el.textContent+=m+"\n";el.hidden=false;}
window.addEventListener("error",function(e){rec("error: "+(e.message||(e.target&&e.target.tagName)||e.type)+
 (e.filename?" at "+e.filename+":"+e.lineno:""));},true);
window.addEventListener("unhandledrejection",function(e){rec("unhandled rejection: "+e.reason);});
var ce=console.error;console.error=function(){rec("console.error: "+Array.prototype.join.call(arguments," "));
 return ce.apply(console,arguments);};
document.addEventListener("DOMContentLoaded",function(){pending.splice(0).forEach(rec);});})();
