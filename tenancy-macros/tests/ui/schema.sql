-- The schema the compile tests' queries are checked against (sqlx asks the
-- database for their types; tenancy reads tenancy.manifest).
CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE customers (tenant_id uuid NOT NULL, id bigint NOT NULL, name text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE categories (tenant_id uuid NOT NULL, id bigint NOT NULL, parent_id bigint, name text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE products (tenant_id uuid NOT NULL, id bigint NOT NULL, sku text NOT NULL, price bigint NOT NULL, PRIMARY KEY (tenant_id, id), UNIQUE (tenant_id, sku));
CREATE TABLE orders (tenant_id uuid NOT NULL, id bigint NOT NULL, customer_id bigint NOT NULL, status text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE order_lines (tenant_id uuid NOT NULL, order_id bigint NOT NULL, line_no int NOT NULL, product_id bigint NOT NULL, qty int NOT NULL, PRIMARY KEY (tenant_id, order_id, line_no));
CREATE TABLE payments (tenant_id uuid NOT NULL, id bigint NOT NULL, order_id bigint NOT NULL, amount bigint NOT NULL, PRIMARY KEY (tenant_id, id));
-- An application keyed by bigint ids: `$tenant` is bound as an i64.
CREATE TABLE ledger (tenant_id bigint NOT NULL, id bigint NOT NULL, amount bigint NOT NULL, PRIMARY KEY (tenant_id, id));
