import json, random, calendar, datetime
random.seed(7)
M=["*","0","5","*/15","*/7","0-30/10","59","60","1,2,3","5-3","*/0","*/-5","*5","**","10-20","0,30","7-7","30-59/29","*/100"]
H=["*","0","23","24","25","9-17","*/5","0,12","99","12","22-23","24,0"]
D=["*","1","15","29","30","31","32","1-7","*/1","0","13","28-31","*/10"]
MO=["*","1","2","feb","Jan-Mar","12","*/3","13","0","jun,dec","2,4","11-12","DEC"]
W=["*","0","7","mon-fri","sun","5","SAT,sun","8","1-5/2","6,7","thu"]
specs=set()
while len(specs)<700:
    specs.add(" ".join([random.choice(M),random.choice(H),random.choice(D),random.choice(MO),random.choice(W)]))
specs=sorted(specs)+["@hourly","@daily","@midnight","@weekly","@monthly","@yearly","@annually","@reboot","@DAILY"," 0 0 * * *","0 0 * * * extra","0\t0 * * *","0 0 * *","0 0 * * * a b","1,,2 * * * *","1, * * * *","5/10 * * * *","* * * * *","0 0 29 2 *","0 12 29 2 *","0 0 31 4 *","0 0 30 2 mon"]
def ep(*a): return calendar.timegm(datetime.datetime(*a).timetuple())
times=[ep(2023,12,31,23,59,30),ep(2024,2,28,23,59),ep(2024,2,29,12,0),ep(2023,2,28,23,0),ep(2023,1,31,12,0),ep(2100,2,28,0,0),ep(1999,12,31,23,59,59),ep(2024,12,31,0,0)]
out=open("cases.jsonl","w")
for s in specs:
    for t in random.sample(times,2)+[random.randint(0,2200000000) for _ in range(3)]:
        out.write(json.dumps({"spec":s,"t":t})+"\n")
