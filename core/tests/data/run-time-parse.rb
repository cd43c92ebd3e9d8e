require "json"
require "time"
STDIN.each_line do |line|
  c = JSON.parse(line)
  begin
    c["epoch"] = Time.parse(c["s"]).to_i
  rescue StandardError => e
    c["error"] = e.class.name
  end
  puts JSON.generate(c)
end
