# A Ruby + Treetop evaluator of the elasticity expression grammar of SPEC §6,
# used by scripts/bench-process.py as a stand-in for OneFlow's evaluator when
# OneFlow's own code is not available. It is written for this benchmark from
# the grammar in the spec (no trace, no Ruby Float#to_s rules); it is NOT
# OneFlow's code, only the same kind of program: Ruby start-up, Treetop, a
# PEG parse and an evaluation.
#
#   ruby scripts/bench-expr.rb 'CPU > 80 && MEMORY < 1048576' CPU=82.88 MEMORY=524288
require 'treetop'

Treetop.load_from_string(<<~'GRAMMAR')
  grammar BenchElasticity
    rule expression
      sp body:(boolean_exp / logic_cond) sp {
        def result(vars) body.result(vars) end
      }
    end

    rule boolean_exp
      left:logic_cond sp op:('&&' / '&' / '||' / '|') sp right:expression {
        def result(vars)
          if op.text_value.start_with?('&')
            left.result(vars) && right.result(vars)
          else
            left.result(vars) || right.result(vars)
          end
        end
      }
    end

    rule logic_cond
      a:operand sp op:comp_op sp b:operand {
        def result(vars)
          x = a.result(vars)
          y = b.result(vars)
          return false if x.nil? || y.nil?
          case op.text_value
          when '==', '=' then x == y
          when '!=', '<>' then x != y
          when '>=' then x >= y
          when '>' then x > y
          when '<=' then x <= y
          else x < y
          end
        end
      }
      /
      '!' sp e:expression {
        def result(vars) !e.result(vars) end
      }
      /
      '(' sp e:expression sp ')' {
        def result(vars) e.result(vars) end
      }
    end

    rule comp_op
      '==' / '=' / '!=' / '<>' / '>=' / '>' / '<=' / '<'
    end

    rule operand
      number / variable
    end

    rule number
      '-'? [0-9]+ ('.' [0-9]+)? {
        def result(vars) text_value.to_f end
      }
    end

    rule variable
      [A-Za-z] [A-Za-z0-9_]* {
        def result(vars)
          v = vars[text_value.upcase]
          v && v.to_f
        end
      }
    end

    rule sp
      ' '*
    end
  end
GRAMMAR

expr = ARGV.fetch(0)
vars = ARGV.drop(1).to_h { |kv| kv.split('=', 2) }
tree = BenchElasticityParser.new.parse(expr)
if tree.nil?
  warn "parse error in #{expr.inspect}"
  exit 2
end
puts tree.result(vars)
exit(tree.result(vars) ? 0 : 1)
