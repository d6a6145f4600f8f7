# labctl check program, the python3 fallback of http.sh: argv N SECONDS URL
# HOST; the same output as curl there: each body, then a marker line
# `::labctl:: http STATUS`. No proxies, no redirects.
import sys,urllib.request,urllib.error
n,t,u,h=int(sys.argv[1]),float(sys.argv[2]),sys.argv[3],sys.argv[4]
class R(urllib.request.HTTPRedirectHandler):
    def redirect_request(self,*a,**k): return None
o=urllib.request.build_opener(urllib.request.ProxyHandler({}),R())
for _ in range(n):
    c,b='000',b''
    try:
        with o.open(urllib.request.Request(u,headers={'Host':h}),timeout=t) as f: c,b=str(f.status),f.read()
    except urllib.error.HTTPError as e:
        c,b=str(e.code),e.read()
    except Exception as e:
        sys.stderr.write('%s\n'%e)
    sys.stdout.buffer.write(b+b'\n::labctl:: http '+c.encode()+b'\n'); sys.stdout.flush()
