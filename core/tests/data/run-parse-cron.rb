require "json"
require "parse-cron"
ENV["TZ"] = "UTC"
STDIN.each_line do |line|
  c = JSON.parse(line)
  begin
    n = CronParser.new(c["spec"]).next(Time.at(c["t"])).to_i
    c["next"] = n
  rescue StandardError => e
    c["error"] = e.class.name
  end
  puts JSON.generate(c)
end
