-- Nothing lost: every raw table's rows are either staged or quarantined, never both, never neither.
select *
from {{ ref('audit_row_conservation') }}
where rows_read != rows_staged + rows_quarantined
