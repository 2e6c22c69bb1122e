-- pgq._trigger_expr_param(i_expr text) returns int4
--
-- Code generation helper: the number of the first positional parameter ($1, $2, …) that the SQL
-- expression i_expr (an ev_*= or when= trigger argument) uses outside of string literals ('…', E'…'),
-- dollar-quoted strings ($$…$$, $tag$…$tag$), quoted identifiers ("…") and comments. Such a
-- parameter would reach the generated encoder's own arguments, so the caller refuses it with the
-- C triggers' error ("there is no parameter $n"); null when there is none — dollar quotes and
-- everything else SQL allows pass.
-- Reads no tables; never raises.
create or replace function pgq._trigger_expr_param(i_expr text)
returns int4
language plpgsql
immutable
as $fn$
declare
    n int4 := length(i_expr);
    i int4 := 1;
    c text;
    tag text;
    close_at int4;
    escapes boolean;
begin
    while i <= n loop
        c := substr(i_expr, i, 1);
        if c = '''' then
            -- string literal; '' is a quote inside it, and in E'…' a backslash escapes the next char
            escapes := i > 1 and upper(substr(i_expr, i - 1, 1)) = 'E'
                       and (i = 2 or substr(i_expr, i - 2, 1) !~ '[A-Za-z0-9_]');
            i := i + 1;
            while i <= n loop
                c := substr(i_expr, i, 1);
                if escapes and c = '\' then
                    i := i + 2;
                    continue;
                end if;
                if c = '''' then
                    exit when substr(i_expr, i + 1, 1) <> '''';
                    i := i + 1;
                end if;
                i := i + 1;
            end loop;
            i := i + 1;
        elsif c = '"' then
            close_at := strpos(substr(i_expr, i + 1), '"');
            exit when close_at = 0;
            i := i + close_at + 1;
        elsif c = '-' and substr(i_expr, i + 1, 1) = '-' then
            close_at := strpos(substr(i_expr, i), E'\n');
            exit when close_at = 0;
            i := i + close_at;
        elsif c = '/' and substr(i_expr, i + 1, 1) = '*' then
            close_at := strpos(substr(i_expr, i + 2), '*/');
            exit when close_at = 0;
            i := i + close_at + 3;
        elsif c = '$' and i > 1 and substr(i_expr, i - 1, 1) ~ '[A-Za-z0-9_$]' then
            i := i + 1; -- part of an identifier such as col$1
        elsif c = '$' then
            if substr(i_expr, i + 1, 1) ~ '[0-9]' then
                return substring(substr(i_expr, i + 1) from '^[0-9]+')::int4;
            end if;
            tag := substring(substr(i_expr, i) from '^\$([A-Za-z_][A-Za-z_0-9]*)?\$');
            if tag is not null or substr(i_expr, i, 2) = '$$' then
                tag := '$' || coalesce(tag, '') || '$';
                close_at := strpos(substr(i_expr, i + length(tag)), tag);
                exit when close_at = 0;
                i := i + length(tag) + close_at - 1 + length(tag);
            else
                i := i + 1;
            end if;
        else
            i := i + 1;
        end if;
    end loop;
    return null;
end;
$fn$;
