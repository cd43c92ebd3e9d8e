import json, random
random.seed(3)
out=open("times.jsonl","w")
seps=["T","t"," "]
zones=["","Z","z"," UTC"," GMT","+01:00","-05:30","+0100","+01","-0000"," +02:00","UTC"]
vals=set()
for _ in range(1500):
    y=random.choice([1970,1999,2000,2023,2024,2100,2038,1969])
    m=random.choice([1,2,4,6,9,11,12,0,13])
    d=random.choice([1,15,28,29,30,31,0,32])
    s="%04d-%02d-%02d"%(y,m,d)
    if random.random()<0.8:
        h=random.choice([0,9,12,23,24,25]); mi=random.choice([0,30,59,60]); 
        s+=random.choice(seps)+"%02d:%02d"%(h,mi)
        if random.random()<0.7:
            s+=":%02d"%random.choice([0,30,59,60,61])
            if random.random()<0.3: s+=".%d"%random.randint(0,999999)
        s+=random.choice(zones)
    vals.add(s)
for s in sorted(vals): out.write(json.dumps({"s":s})+"\n")
